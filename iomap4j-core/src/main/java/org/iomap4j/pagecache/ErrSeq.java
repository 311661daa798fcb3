package org.iomap4j.pagecache;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.iomap4j.Errno;
import org.iomap4j.FsException;

/**
 * Writeback error tracking for one address space, after the kernel's errseq_t: an error recorded by
 * asynchronous writeback is reported by the next {@code fsync} of every open handle, exactly once per handle.
 *
 * <p>Each open file handle holds a {@link Cursor} taken at open; {@link Cursor#check()} throws if an error was
 * recorded since the cursor last looked, and then moves the cursor past it. Thread-safe.
 */
public final class ErrSeq {
    private final AtomicLong sequence = new AtomicLong();
    private final AtomicReference<IOException> last = new AtomicReference<>();

    /** A sequence with no error recorded (one per address space; a filesystem may keep more, as sb->s_wb_err). */
    public ErrSeq() {
    }

    /**
     * Records a writeback error; every cursor will report it once.
     *
     * @param error the writeback error
     */
    public void record(IOException error) {
        last.set(error);
        sequence.incrementAndGet();
    }

    /**
     * A cursor that reports errors recorded from now on.
     *
     * @return the new cursor
     */
    public Cursor newCursor() {
        return new Cursor(sequence.get());
    }

    /**
     * True if any error was ever recorded.
     *
     * @return true after the first {@link #record}
     */
    public boolean hasError() {
        return sequence.get() != 0;
    }

    /** One handle's view of the error sequence. Thread-safe. */
    public final class Cursor {
        private final AtomicLong seen;

        private Cursor(long seen) {
            this.seen = new AtomicLong(seen);
        }

        /**
         * Throws the latest error recorded since this cursor last checked (EIO, naming the original error), and
         * advances past it; returns quietly if there was none.
         *
         * @throws IOException EIO for an error this cursor has not reported yet
         */
        public void check() throws IOException {
            long now = sequence.get();
            long before = seen.getAndSet(now);
            if (now != before) {
                IOException e = last.get();
                throw new FsException(FsException.errnoOf(e) == Errno.ENOSPC ? Errno.ENOSPC : Errno.EIO,
                        "writeback failed: " + (e == null ? "I/O error" : e.getMessage()), e);
            }
        }
    }
}
