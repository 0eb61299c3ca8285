// SPDX-License-Identifier: MIT
/*
 * A disk slower than the readings coming in, for the integration cases:
 * preloaded into tbdaqd (LD_PRELOAD), it makes fsync(2) and fdatasync(2)
 * take SLOWSYNC_MS milliseconds longer while the file SLOWSYNC_WHILE
 * exists, so that a case can slow every commit down (SQLite syncs the
 * write-ahead log at each one) and then let the disk be fast again by
 * removing the file. Without both variables it changes nothing.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int fsync(int fd);
int fdatasync(int fd);

static void slowsync_wait(void)
{
    const char *path = getenv("SLOWSYNC_WHILE"), *ms = getenv("SLOWSYNC_MS");
    struct stat st;
    long n;

    if (!path || !ms || stat(path, &st) < 0 || (n = atol(ms)) <= 0)
        return;
    nanosleep(&(struct timespec){n / 1000, n % 1000 * 1000000L}, NULL);
}

int fsync(int fd)
{
    slowsync_wait();
    return (int)syscall(SYS_fsync, fd);
}

int fdatasync(int fd)
{
    slowsync_wait();
    return (int)syscall(SYS_fdatasync, fd);
}
