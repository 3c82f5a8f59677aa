/* The fork server's loop in C (sandbox/forkserver.py loads it with ctypes; see its docstring).

   Why C: between two children the server's pages are shared with no one, but every page it
   writes after a fork is write-protected and faults, and every page a child writes is copied.
   A Python loop touches a few hundred pages per case (objects, refcounts, frames, allocator
   pools); this loop touches its stack, one message buffer and the case-dir buffer. It never
   runs Python between cases in the server, and in each child it does in C what the Python
   loop's child did in Python before the program starts (session, OOM score, fds, rlimits, case
   dir, ids, dumpable), then returns into the interpreter, which runs the program.

   Called with the GIL held (ctypes.PyDLL): fh_serve forks with the interpreter's own
   PyOS_BeforeFork / PyOS_AfterFork_Parent / PyOS_AfterFork_Child around the fork, as os.fork
   does, so at-fork hooks (random's reseed) run in each child.

   The protocol is forkserver.py's: a request "mode cpu_s uid|- key=value,... case_dir" with its
   fds over the SOCK_SEQPACKET socket, then the replies "pid N" and "status N", or
   "error <text>" for a request that could not be forked (the server goes on). Libc only. */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_FDS 7        /* forkserver.CHILD_FDS */
#define MAX_LIMITS 16
#define MSG_MAX (1 << 16)

/* Returned to Python in the child: index + 1 into forkserver.MODES (the same order). */
static const char *const MODES[] = {"stdio", "call", "assert", "judge"};
#define MODE_JUDGE 4

static const struct {
    const char *name;
    int resource;
} RLIMITS[] = {
    {"as", RLIMIT_AS},       {"core", RLIMIT_CORE},       {"cpu", RLIMIT_CPU},
    {"data", RLIMIT_DATA},   {"fsize", RLIMIT_FSIZE},     {"locks", RLIMIT_LOCKS},
    {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
    {"nofile", RLIMIT_NOFILE}, {"nproc", RLIMIT_NPROC},   {"rss", RLIMIT_RSS},
    {"rtprio", RLIMIT_RTPRIO}, {"sigpending", RLIMIT_SIGPENDING}, {"stack", RLIMIT_STACK},
};

struct request {
    int mode; /* 1-based index into MODES */
    long long uid; /* -1: keep ours */
    int nlimits;
    int resource[MAX_LIMITS + 1];
    struct rlimit value[MAX_LIMITS + 1];
    const char *case_dir;
};

typedef void (*hook)(void);

static int send_text(int sock, const char *text) {
    size_t len = strlen(text);
    while (send(sock, text, len, MSG_NOSIGNAL) < 0) {
        if (errno != EINTR)
            return -1;
    }
    return 0;
}

/* Why a number is not one: NULL when `text` (whole) is a decimal integer. */
static const char *parse_int(const char *text, long long *out) {
    char *end;
    errno = 0;
    *out = strtoll(text, &end, 10);
    if (errno || end == text || *end)
        return "not an integer";
    return NULL;
}

/* Parse a request in place (msg is NUL-terminated and ours); NULL, or why it is not one. */
static const char *parse(char *msg, struct request *req) {
    char *fields[5];
    char *p = msg;
    for (int i = 0; i < 4; i++) { /* the case dir, last, may hold spaces */
        char *space = strchr(p, ' ');
        if (!space)
            return "too few fields";
        *space = '\0';
        fields[i] = p;
        p = space + 1;
    }
    fields[4] = p;
    req->mode = 0;
    for (int i = 0; i < (int)(sizeof MODES / sizeof *MODES); i++)
        if (!strcmp(fields[0], MODES[i]))
            req->mode = i + 1;
    if (!req->mode)
        return "unknown mode";
    long long cpu;
    if (parse_int(fields[1], &cpu) || cpu < 0)
        return "bad CPU seconds";
    if (!strcmp(fields[2], "-"))
        req->uid = -1;
    else if (parse_int(fields[2], &req->uid) || req->uid < 0)
        return "bad uid";
    req->nlimits = 0;
    for (char *item = strtok(fields[3], ","); item; item = strtok(NULL, ",")) {
        char *eq = strchr(item, '=');
        if (!eq)
            return "bad rlimit item";
        *eq = '\0';
        int resource = -1;
        for (size_t i = 0; i < sizeof RLIMITS / sizeof *RLIMITS; i++)
            if (!strcmp(item, RLIMITS[i].name))
                resource = RLIMITS[i].resource;
        long long value;
        if (resource < 0)
            return "unknown rlimit";
        if (parse_int(eq + 1, &value))
            return "bad rlimit value";
        if (req->nlimits == MAX_LIMITS)
            return "too many rlimits";
        req->resource[req->nlimits] = resource;
        req->value[req->nlimits].rlim_cur = req->value[req->nlimits].rlim_max =
            value < 0 ? RLIM_INFINITY : (rlim_t)value;
        req->nlimits++;
    }
    /* CPU last, soft = cpu_s, hard one second later (SIGXCPU, then SIGKILL) */
    req->resource[req->nlimits] = RLIMIT_CPU;
    req->value[req->nlimits].rlim_cur = (rlim_t)cpu;
    req->value[req->nlimits].rlim_max = (rlim_t)cpu + 1;
    req->nlimits++;
    req->case_dir = fields[4];
    return NULL;
}

static void child_fail(const char *what) {
    char line[256];
    int n = snprintf(line, sizeof line, "fork server: could not start the program: %s: %s\n", what,
                     strerror(errno));
    if (n > 0 && write(2, line, (size_t)n) < 0) {
    }
    _exit(125);
}

/* In the child: everything the program's process needs before the program runs. */
static void become(const struct request *req, const int *fds, int nfds, int program_role) {
    if (setsid() < 0)
        child_fail("setsid");
    if (program_role) { /* the program, never the supervisor, is the OOM killer's choice */
        int oom = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        if (oom < 0 || write(oom, "1000", 4) != 4)
            child_fail("oom_score_adj");
        close(oom);
    }
    int high[MAX_FDS];
    for (int i = 0; i < nfds; i++) /* out of the way of the numbers they move to */
        if ((high[i] = fcntl(fds[i], F_DUPFD, nfds)) < 0)
            child_fail("dup");
    for (int i = 0; i < nfds; i++)
        if (dup2(high[i], i) < 0)
            child_fail("dup2");
    /* our socket and every stray fd */
    if (syscall(SYS_close_range, (unsigned)nfds, ~0U, 0) < 0) {
        long top = sysconf(_SC_OPEN_MAX);
        for (long fd = nfds; fd < (top > 0 ? top : 1 << 16); fd++)
            close((int)fd);
    }
    for (int i = 0; i < req->nlimits; i++)
        if (setrlimit(req->resource[i], &req->value[i]) < 0)
            child_fail("setrlimit");
    if (chdir(req->case_dir) < 0)
        child_fail("chdir");
    if (req->uid >= 0) { /* all three ids: no capability is left, none can come back */
        uid_t uid = (uid_t)req->uid;
        if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
            child_fail("setuid");
    }
    /* dumpable again, as an exec'd program would be; a test process stays undumpable */
    if (req->mode != MODE_JUDGE && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
        child_fail("prctl");
}

static struct {
    int program_role;
    hook before_fork, after_parent, after_child;
    char *script; /* the caller's buffer: the child finds its case dir + "/prog.py" here */
    size_t script_size;
} conf;

/* The environment's HOME= and TMPDIR= entries: putenv keeps these very buffers, and the server
   writes each case's dir into them before it forks, so a child's C environment is right without
   a write of its own (each would copy a page). */
static char home_entry[sizeof "HOME=" + PATH_MAX];
static char tmpdir_entry[sizeof "TMPDIR=" + PATH_MAX];

/* Once, before fh_serve: the fork hooks (PyOS_BeforeFork, PyOS_AfterFork_Parent,
   PyOS_AfterFork_Child), the buffer for the script's path, and the role ("program" children
   take OOM score 1000, test processes leave theirs alone). 0, or -1 if putenv failed. */
int fh_init(int program_role, hook before_fork, hook after_parent, hook after_child, char *script,
            size_t script_size) {
    conf.program_role = program_role;
    conf.before_fork = before_fork;
    conf.after_parent = after_parent;
    conf.after_child = after_child;
    conf.script = script;
    conf.script_size = script_size;
    strcpy(home_entry, "HOME=/");
    strcpy(tmpdir_entry, "TMPDIR=/");
    return putenv(home_entry) || putenv(tmpdir_entry) ? -1 : 0;
}

/* The loop. In the server it returns only when the supervisor is gone (0) or the socket
   failed (-1). In each child it returns the mode (1-based index into MODES) once the child is
   set up, with case_dir + "/prog.py" (NUL-terminated) in the script buffer. */
int fh_serve(int sock) {
    static char msg[MSG_MAX + 1];
    char reply[64];
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
    } control;
    for (;;) {
        struct iovec iov = {msg, MSG_MAX};
        struct msghdr hdr = {0};
        hdr.msg_iov = &iov;
        hdr.msg_iovlen = 1;
        hdr.msg_control = control.buf;
        hdr.msg_controllen = sizeof control.buf;
        ssize_t n = recvmsg(sock, &hdr, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return 0; /* the supervisor is gone */
        msg[n] = '\0';
        int fds[MAX_FDS];
        int nfds = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&hdr); c; c = CMSG_NXTHDR(&hdr, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                continue;
            int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            for (int i = 0; i < count; i++) {
                int fd;
                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
                if (nfds < MAX_FDS)
                    fds[nfds++] = fd;
                else
                    close(fd);
            }
        }
        struct request req;
        const char *why = hdr.msg_flags & MSG_TRUNC ? "the request is too long"
                          : strlen(msg) == (size_t)n ? parse(msg, &req)
                                                     : "a NUL byte in the request";
        size_t len = why ? 0 : strlen(req.case_dir);
        if (!why && (len >= PATH_MAX || len + sizeof "/prog.py" > conf.script_size))
            why = "the case dir is too long";
        pid_t pid = -1;
        if (!why) { /* written here, where a page costs no copy; the child inherits them */
            memcpy(home_entry + 5, req.case_dir, len + 1);
            memcpy(tmpdir_entry + 7, req.case_dir, len + 1);
            memcpy(conf.script, req.case_dir, len);
            memcpy(conf.script + len, "/prog.py", sizeof "/prog.py");
            if (conf.before_fork) conf.before_fork();
            pid = fork();
            if (pid == 0) {
                if (conf.after_child) conf.after_child();
                become(&req, fds, nfds, conf.program_role);
                return req.mode;
            }
            int saved = errno;
            if (conf.after_parent) conf.after_parent();
            if (pid < 0) {
                errno = saved;
                why = strerror(errno);
            }
        }
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        if (why) { /* a request we cannot read (or a failed fork) ends that case, not us */
            char line[256];
            snprintf(line, sizeof line, "error the fork server could not start the case: %s", why);
            if (send_text(sock, line) < 0)
                return -1;
            continue;
        }
        snprintf(reply, sizeof reply, "pid %d", (int)pid);
        if (send_text(sock, reply) < 0)
            return -1;
        int status;
        while (waitpid(pid, &status, 0) < 0)
            if (errno != EINTR)
                return -1;
        snprintf(reply, sizeof reply, "status %d", status);
        if (send_text(sock, reply) < 0)
            return -1;
    }
}
