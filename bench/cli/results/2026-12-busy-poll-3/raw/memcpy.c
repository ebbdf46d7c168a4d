#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e9+t.tv_nsec;}
int main(){ char*a=malloc(256<<10),*b=malloc(1<<20); memset(a,1,256<<10); memset(b,2,1<<20);
 size_t sz[]={4096,16384,65536}; for(int k=0;k<3;k++){ double t0=now(); for(int i=0;i<20000;i++){memcpy(b,a,sz[k]); __asm__ volatile(""::"r"(b):"memory");} printf("%zu: %.3f us\n",sz[k],(now()-t0)/20000/1000);} }
