// SPDX-License-Identifier: MIT
/*
 * The export's files, written so that nothing is ever left half-written:
 * the data go to a temporary file beside the one named, are synced, and
 * are renamed into place only when complete; any error removes them, and
 * a sync of the directory makes the rename itself durable.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/export.h"
#include "common/log.h"

/* The suffix of the temporary file written beside FILE (mkstemp's). */
#define EXPORT_TMP_SUFFIX ".tmp-XXXXXX"

/* Creates path's temporary file beside it. Logs and returns -1 on error. */
int outfile_open(struct outfile *o, const char *path)
{
    struct stat st;
    mode_t mask;

    o->path = xstrdup(path);
    o->fd = -1;
    o->tmp = xmalloc(strlen(path) + sizeof(EXPORT_TMP_SUFFIX));
    strcpy(o->tmp, path);
    strcat(o->tmp, EXPORT_TMP_SUFFIX);
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        log_err("cannot write '%s': it is a directory", path);
        goto fail;
    }
    if ((o->fd = mkstemp(o->tmp)) < 0) {
        log_err("cannot write '%s': %s", path, strerror(errno));
        goto fail;
    }
    /* mkstemp makes it private; an export is an ordinary file */
    mask = umask(0);
    umask(mask);
    if (fchmod(o->fd, 0666 & ~mask) < 0) {
        log_err("cannot write '%s': %s", path, strerror(errno));
        goto fail;
    }
    return 0;
fail:
    if (o->fd >= 0) {
        close(o->fd);
        unlink(o->tmp);
    }
    o->fd = -1;
    free(o->tmp);
    free(o->path);
    o->tmp = o->path = NULL;
    return -1;
}

/* Syncs and closes the temporary file. Logs and returns -1 on error. */
int outfile_close(struct outfile *o)
{
    int rc = fsync(o->fd);

    if (close(o->fd) < 0)
        rc = -1;
    o->fd = -1;
    if (rc < 0)
        log_err("cannot write '%s': %s", o->path, strerror(errno));
    return rc;
}

/* Renames the temporary file into place. Logs and returns -1 on error. */
int outfile_commit(struct outfile *o)
{
    if (rename(o->tmp, o->path) < 0) {
        log_err("cannot write '%s': %s", o->path, strerror(errno));
        return -1;
    }
    free(o->tmp);
    o->tmp = NULL;
    return 0;
}

/* Removes the temporary file, if any, and frees o. */
void outfile_release(struct outfile *o)
{
    if (o->fd >= 0)
        close(o->fd);
    if (o->tmp)
        unlink(o->tmp);
    free(o->tmp);
    free(o->path);
    o->tmp = o->path = NULL;
    o->fd = -1;
}

/* Makes the renames durable: syncs the directory holding path. */
void outfile_sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? xstrdup(path) : xstrdup(".");
    int fd;

    if (slash)
        dir[slash == path ? 1 : slash - path] = '\0';
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY)) >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}
