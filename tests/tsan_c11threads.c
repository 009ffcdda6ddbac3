/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Linked into the -fsanitize=thread build only (make test-tsan).
 *
 * Debian's librdkafka uses C11 threads (thrd_create, mtx_lock, cnd_wait),
 * which glibc implements by calling its internal pthread functions
 * directly, past TSan's interceptors.  TSan then never sees librdkafka's
 * threads start (its first malloc on such a thread crashes in the TSan
 * allocator) nor its locks (every hand-over through a librdkafka queue
 * looks like a race).  These definitions take precedence over libc's for
 * librdkafka.so and forward to the intercepted pthread calls, exactly as
 * glibc's own do (mtx_t and cnd_t are pthread_mutex_t and pthread_cond_t
 * underneath).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

struct start {
    thrd_start_t fn;
    void        *arg;
};

static void *trampoline(void *p)
{
    struct start s = *(struct start *)p;

    free(p);
    return (void *)(intptr_t)s.fn(s.arg);
}

static int thrd_status(int rc)
{
    switch (rc) {
    case 0:         return thrd_success;
    case EBUSY:     return thrd_busy;
    case ETIMEDOUT: return thrd_timedout;
    case ENOMEM:    return thrd_nomem;
    default:        return thrd_error;
    }
}

int thrd_create(thrd_t *thr, thrd_start_t fn, void *arg)
{
    struct start *s = malloc(sizeof(*s));
    int rc;

    if (!s)
        return thrd_nomem;
    s->fn = fn;
    s->arg = arg;
    rc = pthread_create((pthread_t *)thr, NULL, trampoline, s);
    if (rc != 0)
        free(s);
    return thrd_status(rc);
}

int thrd_join(thrd_t thr, int *res)
{
    void *ret;
    int rc = pthread_join((pthread_t)thr, &ret);

    if (rc == 0 && res)
        *res = (int)(intptr_t)ret;
    return thrd_status(rc);
}

int thrd_detach(thrd_t thr)
{
    return thrd_status(pthread_detach((pthread_t)thr));
}

int mtx_init(mtx_t *m, int type)
{
    pthread_mutexattr_t attr;
    int rc;

    pthread_mutexattr_init(&attr);
    if (type & mtx_recursive)
        pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    rc = pthread_mutex_init((pthread_mutex_t *)m, &attr);
    pthread_mutexattr_destroy(&attr);
    return thrd_status(rc);
}

int mtx_lock(mtx_t *m)
{
    return thrd_status(pthread_mutex_lock((pthread_mutex_t *)m));
}

int mtx_trylock(mtx_t *m)
{
    return thrd_status(pthread_mutex_trylock((pthread_mutex_t *)m));
}

int mtx_timedlock(mtx_t *restrict m, const struct timespec *restrict ts)
{
    return thrd_status(pthread_mutex_timedlock((pthread_mutex_t *)m, ts));
}

int mtx_unlock(mtx_t *m)
{
    return thrd_status(pthread_mutex_unlock((pthread_mutex_t *)m));
}

void mtx_destroy(mtx_t *m)
{
    pthread_mutex_destroy((pthread_mutex_t *)m);
}

int cnd_init(cnd_t *c)
{
    return thrd_status(pthread_cond_init((pthread_cond_t *)c, NULL));
}

int cnd_signal(cnd_t *c)
{
    return thrd_status(pthread_cond_signal((pthread_cond_t *)c));
}

int cnd_broadcast(cnd_t *c)
{
    return thrd_status(pthread_cond_broadcast((pthread_cond_t *)c));
}

int cnd_wait(cnd_t *c, mtx_t *m)
{
    return thrd_status(pthread_cond_wait((pthread_cond_t *)c, (pthread_mutex_t *)m));
}

int cnd_timedwait(cnd_t *restrict c, mtx_t *restrict m, const struct timespec *restrict ts)
{
    return thrd_status(pthread_cond_timedwait((pthread_cond_t *)c, (pthread_mutex_t *)m, ts));
}

void cnd_destroy(cnd_t *c)
{
    pthread_cond_destroy((pthread_cond_t *)c);
}
