// 512 KiB request/response over loopback TCP: client sends with send() or vmsplice+splice; server recv()s into place, answers 8 bytes.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e6+t.tv_nsec/1e3;}
int main(int argc,char**argv){ size_t n=strtoul(argv[1],0,0); int mode=atoi(argv[2]); int iters=atoi(argv[3]);
  int ls=socket(AF_INET,SOCK_STREAM,0); struct sockaddr_in a={.sin_family=AF_INET,.sin_addr.s_addr=htonl(0x7f000001)}; int one=1;
  bind(ls,(void*)&a,sizeof a); socklen_t al=sizeof a; getsockname(ls,(void*)&a,&al); listen(ls,1);
  if(fork()==0){ int s=accept(ls,0,0); setsockopt(s,IPPROTO_TCP,TCP_NODELAY,&one,4); char*buf=aligned_alloc(4096,n); memset(buf,0,n);
    for(int i=0;i<iters;i++){ size_t got=0; while(got<n){ ssize_t r=recv(s,buf+got,n-got,0); if(r<=0) _exit(1); got+=r;} uint64_t ack=buf[n-1]; send(s,&ack,8,0);} _exit(0);}
  int s=socket(AF_INET,SOCK_STREAM,0); setsockopt(s,IPPROTO_TCP,TCP_NODELAY,&one,4); connect(s,(void*)&a,sizeof a);
  char*src=aligned_alloc(4096,n); memset(src,7,n); int p[2]; pipe(p); int ps=fcntl(p[1],F_SETPIPE_SZ,(int)n); if(mode==1&&ps<(int)n){fprintf(stderr,"pipe %d\n",ps);}
  double t0=0, tsend=0; for(int i=-200;i<iters-200;i++){ if(i==0) t0=now(); src[i&4095]=i; double ts=now(); if(i==0) tsend=0;
    if(mode==0){ size_t off=0; while(off<n){ ssize_t w=send(s,src+off,n-off,0); if(w<=0){perror("send");return 1;} off+=w;} }
    else { size_t off=0; while(off<n){ struct iovec v={src+off,n-off}; ssize_t m=vmsplice(p[1],&v,1,0); if(m<=0){perror("vmsplice");return 1;} ssize_t k=0; while(k<m){ ssize_t w=splice(p[0],0,s,0,m-k,SPLICE_F_MORE*0); if(w<=0){perror("splice");return 1;} k+=w;} off+=m;} }
    tsend+=now()-ts; uint64_t ack; size_t g=0; while(g<8){ ssize_t r=recv(s,(char*)&ack+g,8-g,0); if(r<=0) return 1; g+=r;} }
  double t=now()-t0; printf("send phase %.1f us; %s %zu: %.1f us per request, %.2f GB/s\n",tsend/(iters-200),mode?"vmsplice+splice":"send",n,t/(iters-200),n*(iters-200)/t/1e3); wait(0); return 0;}
