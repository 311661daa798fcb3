#!/usr/bin/env python3
"""POSIX permission conformance cases for PermissionConformanceTest (issue #15 item 3).

Each case has a setup, run as root in a fresh directory per acting uid, and an operation list, run as the
acting uid. The same cases run on a kernel ext4 loop mount (the oracle) and on an iomapfs FUSE mount of a copy
of the same image; the Java test compares every result line and the state dumped afterwards.

Phases (umask is 0 in all of them so modes are exactly what a case asks for):
  setup ROOT UID...   as root: ROOT/cases/<case>/<uid>/ for every case and acting uid
  run ROOT UID        as UID: every case's operations; prints "case<TAB>uid<TAB>label<TAB>result"
  state ROOT          as root: "path<TAB>type<TAB>mode<TAB>uid<TAB>gid<TAB>nlink<TAB>size<TAB>ctime_ns" for all
Results are "ok", "ok:<value>" or the errno name (EACCES, EPERM, ...).
"""
import errno
import os
import stat
import sys

U1, U2, G1, G2, GS = 1001, 1002, 1001, 1002, 3000  # uid 1001 is in group 3000 (supplementary), 1002 is not
CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def errname(e):
    return errno.errorcode.get(e.errno, str(e.errno))


def attempt(label, fn, *args):
    try:
        r = fn(*args)
        return (label, "ok" if r is None else "ok:" + str(r))
    except OSError as e:
        return (label, errname(e))


def mkfile(path, mode=0o644, uid=0, gid=0, data=b"x"):
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    os.write(fd, data)
    os.close(fd)
    os.chown(path, uid, gid)
    os.chmod(path, mode)  # after chown: chown clears set-id bits


def mkdir(path, mode=0o755, uid=0, gid=0):
    os.mkdir(path)
    os.chown(path, uid, gid)
    os.chmod(path, mode)


def write_some(path):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, b"y")
    finally:
        os.close(fd)


def read_some(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        return len(os.read(fd, 10))
    finally:
        os.close(fd)


def mode_of(path):
    return oct(stat.S_IMODE(os.lstat(path).st_mode))


def gid_of(path):
    return os.lstat(path).st_gid


# ---------------------------------------------------------------- sticky directories

@case
def sticky_unlink_others_file(d, uid):
    def setup():
        mkdir(f"{d}/t", 0o1777)
        mkfile(f"{d}/t/f", 0o666, U1, G1)
    def run():
        return [attempt("unlink", os.unlink, f"{d}/t/f")]
    return setup, run


@case
def sticky_rename_others_file(d, uid):
    def setup():
        mkdir(f"{d}/t", 0o1777)
        mkfile(f"{d}/t/f", 0o666, U1, G1)
    def run():
        return [attempt("rename", os.rename, f"{d}/t/f", f"{d}/t/g")]
    return setup, run


@case
def sticky_rename_over_others_file(d, uid):
    def setup():
        mkdir(f"{d}/t", 0o1777)
        mkfile(f"{d}/t/victim", 0o666, U1, G1)
        mkfile(f"{d}/t/mine", 0o644, uid, uid)
    def run():
        return [attempt("rename-over", os.rename, f"{d}/t/mine", f"{d}/t/victim")]
    return setup, run


@case
def sticky_rmdir_others_dir(d, uid):
    def setup():
        mkdir(f"{d}/t", 0o1777)
        mkdir(f"{d}/t/sub", 0o777, U1, G1)
    def run():
        return [attempt("rmdir", os.rmdir, f"{d}/t/sub")]
    return setup, run


@case
def sticky_dir_owned_by_u2(d, uid):
    def setup():
        mkdir(f"{d}/t", 0o1777, U2, G2)
        mkfile(f"{d}/t/f", 0o666, U1, G1)
        mkfile(f"{d}/t/g", 0o666, U1, G1)
    def run():
        return [attempt("unlink", os.unlink, f"{d}/t/f"), attempt("rename", os.rename, f"{d}/t/g", f"{d}/t/h")]
    return setup, run


@case
def sticky_own_file(d, uid):
    def setup():
        mkdir(f"{d}/t", 0o1777)
        mkfile(f"{d}/t/f", 0o644, uid, uid)
    def run():
        return [attempt("rename", os.rename, f"{d}/t/f", f"{d}/t/g"), attempt("unlink", os.unlink, f"{d}/t/g")]
    return setup, run


# ---------------------------------------------------------------- SGID directories

@case
def sgid_dir_inheritance(d, uid):
    def setup():
        mkdir(f"{d}/s", 0o2777, 0, GS)
    def run():
        out = [attempt("create", mkfile_as_caller, f"{d}/s/f", 0o644),
               attempt("mkdir", os.mkdir, f"{d}/s/sub", 0o755),
               attempt("mknod-fifo", os.mkfifo, f"{d}/s/fifo", 0o644),
               attempt("symlink", os.symlink, "f", f"{d}/s/link")]
        return out
    return setup, run


def mkfile_as_caller(path, mode):
    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode))


@case
def sgid_dir_create_setgid_file(d, uid):
    def setup():
        mkdir(f"{d}/s", 0o2777, 0, GS)
        mkdir(f"{d}/p", 0o2777, 0, G2)
    def run():
        return [attempt("create-02775-in-GS", mkfile_as_caller, f"{d}/s/f", 0o2775),
                attempt("create-02775-in-G2", mkfile_as_caller, f"{d}/p/f", 0o2775),
                attempt("mkdir-in-GS", os.mkdir, f"{d}/s/sub", 0o775)]
    return setup, run


# ---------------------------------------------------------------- set-id bits cleared

@case
def write_clears_setid(d, uid):
    def setup():
        mkfile(f"{d}/suid", 0o4777, U1, G1)
        mkfile(f"{d}/sgid-x", 0o2777, U1, G1)
        mkfile(f"{d}/sgid-nox", 0o2767, U1, G1)
        mkfile(f"{d}/both", 0o6777, uid, uid)
        mkfile(f"{d}/both-nox", 0o6767, U1, G1)
    def run():
        return [attempt("write-suid", write_some, f"{d}/suid"),
                attempt("write-sgid-x", write_some, f"{d}/sgid-x"),
                attempt("write-sgid-nox", write_some, f"{d}/sgid-nox"),
                attempt("write-own", write_some, f"{d}/both"),
                attempt("write-both-nox", write_some, f"{d}/both-nox")]
    return setup, run


@case
def truncate_clears_setid(d, uid):
    def setup():
        mkfile(f"{d}/suid", 0o4777, U1, G1)
        mkfile(f"{d}/own", 0o6777, uid, uid)
        mkfile(f"{d}/otrunc", 0o4777, U1, G1)
    def run():
        return [attempt("truncate", os.truncate, f"{d}/suid", 0),
                attempt("truncate-own", os.truncate, f"{d}/own", 1),
                attempt("open-otrunc", lambda p: os.close(os.open(p, os.O_WRONLY | os.O_TRUNC)), f"{d}/otrunc")]
    return setup, run


@case
def chown_clears_setid(d, uid):
    def setup():
        mkfile(f"{d}/f", 0o6755, uid, uid)
        mkdir(f"{d}/dir", 0o2755, uid, uid)
    def run():
        return [attempt("chown-same", os.chown, f"{d}/f", -1, uid),
                attempt("chown-dir-same", os.chown, f"{d}/dir", -1, uid)]
    return setup, run


# ---------------------------------------------------------------- chmod / chown

@case
def chmod_rules(d, uid):
    def setup():
        mkfile(f"{d}/others", 0o644, U1, G1)
        mkfile(f"{d}/mine-gs", 0o644, uid, GS)
        mkfile(f"{d}/mine-g2", 0o644, uid, G2)
    def run():
        return [attempt("chmod-others", os.chmod, f"{d}/others", 0o600),
                attempt("chmod-sgid-gs", os.chmod, f"{d}/mine-gs", 0o2755),
                attempt("chmod-sgid-g2", os.chmod, f"{d}/mine-g2", 0o2755),
                attempt("chmod-suid", os.chmod, f"{d}/mine-g2", 0o4755),
                attempt("chmod-sticky-file", os.chmod, f"{d}/mine-gs", 0o1644)]
    return setup, run


@case
def chown_rules(d, uid):
    def setup():
        mkfile(f"{d}/mine", 0o644, uid, uid)
        mkfile(f"{d}/mine2", 0o644, uid, uid)
        mkfile(f"{d}/mine3", 0o644, uid, uid)
        mkfile(f"{d}/others", 0o666, U1, G1)
    def run():
        return [attempt("chown-uid-away", os.chown, f"{d}/mine", U2 if uid != U2 else U1, -1),
                attempt("chgrp-GS", os.chown, f"{d}/mine2", -1, GS),
                attempt("chgrp-G2", os.chown, f"{d}/mine3", -1, G2),
                attempt("chgrp-others", os.chown, f"{d}/others", -1, GS),
                attempt("chown-noop-others", os.chown, f"{d}/others", -1, -1)]
    return setup, run


# ---------------------------------------------------------------- path components and open

@case
def search_permission(d, uid):
    def setup():
        mkdir(f"{d}/closed", 0o700)
        mkfile(f"{d}/closed/f", 0o644)
        mkdir(f"{d}/xonly", 0o711)
        mkfile(f"{d}/xonly/f", 0o644)
        mkdir(f"{d}/ronly", 0o744)
        mkfile(f"{d}/ronly/f", 0o644)
    def run():
        return [attempt("stat-closed", lambda p: os.stat(p) and None, f"{d}/closed/f"),
                attempt("open-closed", read_some, f"{d}/closed/f"),
                attempt("stat-xonly", lambda p: os.stat(p) and None, f"{d}/xonly/f"),
                attempt("read-xonly", read_some, f"{d}/xonly/f"),
                attempt("list-xonly", lambda p: len(os.listdir(p)), f"{d}/xonly"),
                attempt("list-ronly", lambda p: len(os.listdir(p)), f"{d}/ronly"),
                attempt("stat-ronly", lambda p: os.stat(p) and None, f"{d}/ronly/f"),
                attempt("create-xonly", mkfile_as_caller, f"{d}/xonly/new", 0o644)]
    return setup, run


@case
def open_modes(d, uid):
    def setup():
        mkfile(f"{d}/w-only", 0o222, U1, G1)
        mkfile(f"{d}/r-only", 0o444, U1, G1)
        mkfile(f"{d}/owner-rw", 0o600, U1, G1)
        mkfile(f"{d}/group-rw", 0o060, 0, GS)
        mkfile(f"{d}/other-r-owner-none", 0o004, uid, uid)
    def run():
        return [attempt("read-w-only", read_some, f"{d}/w-only"),
                attempt("write-w-only", write_some, f"{d}/w-only"),
                attempt("write-r-only", write_some, f"{d}/r-only"),
                attempt("trunc-r-only", lambda p: os.close(os.open(p, os.O_RDONLY | os.O_TRUNC)), f"{d}/r-only"),
                attempt("read-owner-rw", read_some, f"{d}/owner-rw"),
                attempt("read-group-rw", read_some, f"{d}/group-rw"),
                attempt("read-other-r-owner-none", read_some, f"{d}/other-r-owner-none"),
                attempt("access-W", lambda p: os.access(p, os.W_OK), f"{d}/r-only"),
                attempt("access-R", lambda p: os.access(p, os.R_OK), f"{d}/owner-rw")]
    return setup, run


@case
def create_in_readonly_dir(d, uid):
    def setup():
        mkdir(f"{d}/ro", 0o555)
        mkfile(f"{d}/ro/f", 0o666)
        mkdir(f"{d}/ro/sub", 0o777)
    def run():
        return [attempt("create", mkfile_as_caller, f"{d}/ro/new", 0o644),
                attempt("mkdir", os.mkdir, f"{d}/ro/newdir"),
                attempt("unlink", os.unlink, f"{d}/ro/f"),
                attempt("rmdir", os.rmdir, f"{d}/ro/sub"),
                attempt("symlink", os.symlink, "x", f"{d}/ro/l"),
                attempt("mkfifo", os.mkfifo, f"{d}/ro/p"),
                attempt("write-existing", write_some, f"{d}/ro/f")]
    return setup, run


# ---------------------------------------------------------------- utimensat

@case
def utimensat_rules(d, uid):
    def setup():
        mkfile(f"{d}/others-rw", 0o666, U1, G1)
        mkfile(f"{d}/others-r", 0o644, U1, G1)
        mkfile(f"{d}/mine-r", 0o444, uid, uid)
    def run():
        return [attempt("now-others-rw", os.utime, f"{d}/others-rw", None),
                attempt("explicit-others-rw", os.utime, f"{d}/others-rw", (1000000000, 1000000000)),
                attempt("now-others-r", os.utime, f"{d}/others-r", None),
                attempt("omit-now-others-rw", os.utime, f"{d}/others-rw", None, ),
                attempt("explicit-mine-r", os.utime, f"{d}/mine-r", (1000000000, 1200000000)),
                attempt("now-mine-r", os.utime, f"{d}/mine-r", None)]
    return setup, run


# ---------------------------------------------------------------- link and rename

@case
def link_rules(d, uid):
    def setup():
        mkdir(f"{d}/w", 0o777)
        mkdir(f"{d}/nw", 0o755)
        mkfile(f"{d}/w/others-secret", 0o600, U1, G1)
        mkfile(f"{d}/w/others-public", 0o666, U1, G1)
        mkfile(f"{d}/w/mine", 0o600, uid, uid)
    def run():
        return [attempt("link-others-secret", os.link, f"{d}/w/others-secret", f"{d}/w/l1"),
                attempt("link-others-public", os.link, f"{d}/w/others-public", f"{d}/w/l2"),
                attempt("link-mine", os.link, f"{d}/w/mine", f"{d}/w/l3"),
                attempt("link-into-nonwritable", os.link, f"{d}/w/mine", f"{d}/nw/l4"),
                attempt("link-dir", os.link, f"{d}/nw", f"{d}/w/l5")]
    return setup, run


@case
def rename_rules(d, uid):
    def setup():
        mkdir(f"{d}/a", 0o777)
        mkdir(f"{d}/b", 0o777)
        mkdir(f"{d}/ro", 0o755)
        mkdir(f"{d}/a/dir-r", 0o555, uid, uid)
        mkdir(f"{d}/a/dir-w", 0o755, uid, uid)
        mkfile(f"{d}/a/f", 0o644, uid, uid)
        mkfile(f"{d}/ro/g", 0o666, uid, uid)
        mkdir(f"{d}/b/full", 0o777)
        mkfile(f"{d}/b/full/x", 0o644)
        mkdir(f"{d}/a/empty", 0o777, uid, uid)
    def run():
        return [attempt("dir-r-across", os.rename, f"{d}/a/dir-r", f"{d}/b/dir-r"),
                attempt("dir-r-same-parent", os.rename, f"{d}/a/dir-r", f"{d}/a/dir-r2"),
                attempt("dir-w-across", os.rename, f"{d}/a/dir-w", f"{d}/b/dir-w"),
                attempt("file-into-ro", os.rename, f"{d}/a/f", f"{d}/ro/f"),
                attempt("file-out-of-ro", os.rename, f"{d}/ro/g", f"{d}/a/g"),
                attempt("dir-over-nonempty", os.rename, f"{d}/a/empty", f"{d}/b/full"),
                attempt("file-over-dir", os.rename, f"{d}/a/f", f"{d}/b/full"),
                attempt("dir-into-itself", os.rename, f"{d}/b", f"{d}/b/full/sub")]
    return setup, run


@case
def remove_rules(d, uid):
    def setup():
        mkdir(f"{d}/w", 0o777)
        mkdir(f"{d}/w/full", 0o777)
        mkfile(f"{d}/w/full/x", 0o644)
        mkfile(f"{d}/w/f", 0o600, U1, G1)
    def run():
        return [attempt("rmdir-nonempty", os.rmdir, f"{d}/w/full"),
                attempt("unlink-dir", os.unlink, f"{d}/w/full"),
                attempt("rmdir-file", os.rmdir, f"{d}/w/f"),
                attempt("unlink-others-in-writable", os.unlink, f"{d}/w/f")]
    return setup, run


@case
def special_files(d, uid):
    def setup():
        mkdir(f"{d}/w", 0o777)
    def run():
        return [attempt("mknod-chr", os.mknod, f"{d}/w/c", 0o644 | stat.S_IFCHR, os.makedev(1, 3)),
                attempt("mknod-fifo", os.mknod, f"{d}/w/p", 0o644 | stat.S_IFIFO),
                attempt("mknod-reg", os.mknod, f"{d}/w/r", 0o644 | stat.S_IFREG),
                attempt("symlink", os.symlink, "/nowhere", f"{d}/w/s"),
                attempt("readlink", os.readlink, f"{d}/w/s")]
    return setup, run


@case
def ctime_updates(d, uid):
    def setup():
        mkdir(f"{d}/w", 0o777, uid, uid)
        for n in ("chmod", "chown", "link", "unlink-one", "rename", "write", "truncate", "utime"):
            mkfile(f"{d}/w/{n}", 0o644, uid, uid)
        os.link(f"{d}/w/unlink-one", f"{d}/w/unlink-two")
    def run():
        w = f"{d}/w"
        return [attempt("chmod", os.chmod, f"{w}/chmod", 0o600),
                attempt("chown", os.chown, f"{w}/chown", uid, uid),
                attempt("link", os.link, f"{w}/link", f"{w}/link2"),
                attempt("unlink", os.unlink, f"{w}/unlink-one"),
                attempt("rename", os.rename, f"{w}/rename", f"{w}/renamed"),
                attempt("write", write_some, f"{w}/write"),
                attempt("truncate", os.truncate, f"{w}/truncate", 0),
                attempt("utime", os.utime, f"{w}/utime", (5, 5))]
    return setup, run


# ---------------------------------------------------------------- phases

def case_dirs(root, uids):
    for fn in CASES:
        for uid in uids:
            yield fn, uid, f"{root}/cases/{fn.__name__}/{uid}"


def main():
    os.umask(0)
    phase, root = sys.argv[1], sys.argv[2]
    if phase == "setup":
        uids = [int(u) for u in sys.argv[3:]]
        os.makedirs(f"{root}/cases", exist_ok=True)
        os.chmod(f"{root}/cases", 0o755)
        for fn in CASES:
            os.makedirs(f"{root}/cases/{fn.__name__}", exist_ok=True)
        for fn, uid, d in case_dirs(root, uids):
            os.mkdir(d, 0o755)
            fn(d, uid)[0]()
    elif phase == "run":
        uid = int(sys.argv[3])
        for fn, _, d in case_dirs(root, [uid]):
            for label, result in fn(d, uid)[1]():
                print(f"{fn.__name__}\t{uid}\t{label}\t{result}")
    elif phase == "state":
        base = f"{root}/cases"
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for name in sorted(dirnames + filenames):
                p = os.path.join(dirpath, name)
                st = os.lstat(p)
                kind = "d" if stat.S_ISDIR(st.st_mode) else "l" if stat.S_ISLNK(st.st_mode) else \
                    "p" if stat.S_ISFIFO(st.st_mode) else "c" if stat.S_ISCHR(st.st_mode) else "f"
                size = st.st_size if kind in ("f", "l") else "-"
                print(f"{os.path.relpath(p, base)}\t{kind}\t{oct(stat.S_IMODE(st.st_mode))}\t{st.st_uid}\t"
                      f"{st.st_gid}\t{st.st_nlink}\t{size}\t{st.st_ctime_ns}")
    else:
        sys.exit("unknown phase " + phase)


if __name__ == "__main__":
    main()
