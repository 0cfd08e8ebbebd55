// The floor of a trapped call on this machine: a child traps getppid(2) with SECCOMP_RET_USER_NOTIF
// and its parent answers CONTINUE with nothing else to do, in C. Prints nanoseconds per call.
// usage: notify-floor MODE N [SYNC]   MODE 0: poll then receive, 1: a blocking receive;
//        SYNC 1 (default): SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP set on the listener.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/seccomp.h>
#include <linux/filter.h>
#include <linux/audit.h>
#include <stddef.h>
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP 1
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
static int sendfd(int s, int fd){char b=0;struct iovec io={&b,1};char c[CMSG_SPACE(4)];struct msghdr m={0};m.msg_iov=&io;m.msg_iovlen=1;m.msg_control=c;m.msg_controllen=sizeof c;struct cmsghdr*h=CMSG_FIRSTHDR(&m);h->cmsg_level=SOL_SOCKET;h->cmsg_type=SCM_RIGHTS;h->cmsg_len=CMSG_LEN(4);memcpy(CMSG_DATA(h),&fd,4);return sendmsg(s,&m,0);}
static int recvfd(int s){char b;struct iovec io={&b,1};char c[CMSG_SPACE(4)];struct msghdr m={0};m.msg_iov=&io;m.msg_iovlen=1;m.msg_control=c;m.msg_controllen=sizeof c;if(recvmsg(s,&m,0)<0)return -1;int fd;memcpy(&fd,CMSG_DATA(CMSG_FIRSTHDR(&m)),4);return fd;}
int main(int argc,char**argv){
  int mode=atoi(argv[1]); long n=atol(argv[2]); int sync=argc>3?atoi(argv[3]):1;
  int sv[2]; socketpair(AF_UNIX,SOCK_STREAM,0,sv);
  pid_t p=fork();
  if(p==0){
    struct sock_filter f[]={BPF_STMT(BPF_LD|BPF_W|BPF_ABS,offsetof(struct seccomp_data,nr)),BPF_JUMP(BPF_JMP|BPF_JEQ|BPF_K,SYS_getppid,0,1),BPF_STMT(BPF_RET|BPF_K,SECCOMP_RET_USER_NOTIF),BPF_STMT(BPF_RET|BPF_K,SECCOMP_RET_ALLOW)};
    struct sock_fprog pr={4,f}; prctl(PR_SET_NO_NEW_PRIVS,1,0,0,0);
    int fd=syscall(SYS_seccomp,SECCOMP_SET_MODE_FILTER,SECCOMP_FILTER_FLAG_NEW_LISTENER,&pr);
    sendfd(sv[0],fd); close(fd); char b; read(sv[0],&b,1);
    for(int i=0;i<100;i++) syscall(SYS_getppid);
    struct timespec a,c; clock_gettime(CLOCK_MONOTONIC,&a);
    for(long i=0;i<n;i++) syscall(SYS_getppid);
    clock_gettime(CLOCK_MONOTONIC,&c);
    printf("%.1f\n",((c.tv_sec-a.tv_sec)*1e9+(c.tv_nsec-a.tv_nsec))/n); fflush(stdout); _exit(0);
  }
  int fd=recvfd(sv[1]); if(sync) ioctl(fd,SECCOMP_IOCTL_NOTIF_SET_FLAGS,SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
  write(sv[1],"x",1);
  struct seccomp_notif req; struct seccomp_notif_resp resp;
  for(;;){
    if(mode==0){struct pollfd pf={fd,POLLIN,0}; if(poll(&pf,1,-1)<0)continue; if(!(pf.revents&POLLIN))break;}
    memset(&req,0,sizeof req);
    if(ioctl(fd,SECCOMP_IOCTL_NOTIF_RECV,&req)<0){ if(mode==1){ int st; if(waitpid(p,&st,WNOHANG)==p) return 0;} continue;}
    resp.id=req.id; resp.val=0; resp.error=0; resp.flags=SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    ioctl(fd,SECCOMP_IOCTL_NOTIF_SEND,&resp);
  }
  waitpid(p,0,0); return 0;
}
