/* An LD_PRELOAD shim that makes every fsync and fdatasync of the process it is loaded
 * into wait SLOW_FSYNC_MS milliseconds (300 without it) before it runs: a card that
 * stalls on each sync, as SD cards do. Built by tests/e2e/slow-card-and-clock.test.mjs:
 *   gcc -shared -fPIC -o slow-fsync.so slow-fsync.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>

static void stall(void) {
    const char *text = getenv("SLOW_FSYNC_MS");
    long ms = text ? atol(text) : 300;
    struct timespec left = { ms / 1000, (ms % 1000) * 1000000L };
    int saved = errno;
    while (nanosleep(&left, &left) != 0 && errno == EINTR) {
    }
    errno = saved;
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    stall();
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    stall();
    return real(fd);
}
