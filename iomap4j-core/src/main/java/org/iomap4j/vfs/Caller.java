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

    /** The bound caller, or {@link #ROOT} when none is bound. */
    public static Caller current() {
        return CURRENT.orElse(ROOT);
    }
}
