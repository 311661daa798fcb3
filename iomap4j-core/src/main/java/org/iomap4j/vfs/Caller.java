package org.iomap4j.vfs;

/**
 * Who an operation is done for: the credentials a front end passes down with a request (FUSE: the uid and gid of
 * the request header), bound for the duration of the request as a {@link ScopedValue}, like the kernel's
 * {@code current_fsuid()}/{@code current_fsgid()}. Why not a {@link Vfs} parameter: only a few decisions deep in a
 * filesystem need it (ext2's root-reserved blocks), and threading it through every call would touch every method.
 *
 * <p>Unbound (a library caller, a background thread, a FUSE request from uid 0) means {@link #ROOT}: privileged,
 * as a kernel thread is. Supplementary groups are not known (FUSE does not send them).
 *
 * @param uid the caller's user id
 * @param gid the caller's primary group id
 */
public record Caller(int uid, int gid) {
    /** The credentials of the request being served on this thread, if a front end bound them. */
    public static final ScopedValue<Caller> CURRENT = ScopedValue.newInstance();

    /** uid 0, gid 0. */
    public static final Caller ROOT = new Caller(0, 0);

    /**
     * The bound caller, or {@link #ROOT} when none is bound.
     *
     * @return the caller of the current operation
     */
    public static Caller current() {
        return CURRENT.orElse(ROOT);
    }

    /**
     * The umask of a create request (create, mknod, mkdir) that the front end left to the filesystem: FUSE with
     * FUSE_DONT_MASK sends the mode unmasked plus the caller's umask, so that a filesystem with POSIX ACLs can
     * apply a parent's default ACL instead (posix_acl_create). Unbound: 0 (the mode is already masked).
     */
    public static final ScopedValue<Integer> UMASK = ScopedValue.newInstance();

    /**
     * The bound {@link #UMASK}, 0 when none is bound.
     *
     * @return the umask applied to created modes
     */
    public static int umask() {
        return UMASK.orElse(0);
    }
}
