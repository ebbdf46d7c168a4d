// memcpy of 512 KiB (src and dst separate, as a socket copy), alone vs on both CPUs at once.
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e6+t.tv_nsec/1e3;}
static pthread_barrier_t bar;
static void* run(void* a){ long cpu=(long)a; cpu_set_t s; CPU_ZERO(&s); CPU_SET(cpu,&s); sched_setaffinity(0,sizeof s,&s);
  size_t n=512<<10; char*src=aligned_alloc(4096,n),*dst=aligned_alloc(4096,n); memset(src,1,n); memset(dst,2,n);
  pthread_barrier_wait(&bar); double t0=now(); for(int i=0;i<4000;i++){ memcpy(dst,src,n); __asm__ volatile(""::"r"(dst):"memory");} double t=now()-t0;
  printf("cpu %ld: %.1f us per 512K memcpy\n",cpu,t/4000); return 0;}
int main(int c,char**v){ int both=atoi(v[1]); pthread_t a,b; pthread_barrier_init(&bar,0,both?2:1);
  pthread_create(&a,0,run,(void*)0); if(both) pthread_create(&b,0,run,(void*)1); pthread_join(a,0); if(both) pthread_join(b,0); return 0;}
