package org.iomap4j.testkit.exercise;

import java.util.Locale;
import org.iomap4j.iomap.Fiemap;

/**
 * One exerciser operation, as logged and replayed: {@link #format()} gives one log line and {@link #parse(String)}
 * reads it back, so a failing run can be replayed from its log. Positions and lengths are bytes; write data is
 * a pattern derived from {@code tag} and the file position, so a log line fully determines the bytes written.
 */
public sealed interface ExerciseOp {

    /**
     * The op's log line, e.g. {@code write 4096 100 7}.
     *
     * @return the log line
     */
    String format();

    /**
     * The kind this op belongs to (for the mix and the counters).
     *
     * @return the kind
     */
    ExerciseConfig.Kind kind();

    /**
     * pread: {@code read pos len}.
     *
     * @param posBytes file byte offset
     * @param lengthBytes bytes to read
     */
    record Read(long posBytes, int lengthBytes) implements ExerciseOp {
        public String format() {
            return "read " + posBytes + " " + lengthBytes;
        }

        public ExerciseConfig.Kind kind() {
            return ExerciseConfig.Kind.READ;
        }
    }

    /**
     * pwrite of bytes derived from {@code tag}: {@code write pos len tag}.
     *
     * @param posBytes file byte offset
     * @param lengthBytes bytes to write
     * @param tag seeds the data pattern ({@link #dataByte})
     */
    record Write(long posBytes, int lengthBytes, long tag) implements ExerciseOp {
        public String format() {
            return "write " + posBytes + " " + lengthBytes + " " + tag;
        }

        public ExerciseConfig.Kind kind() {
            return ExerciseConfig.Kind.WRITE;
        }
    }

    /**
     * ftruncate: {@code truncate size}.
     *
     * @param sizeBytes the new size in bytes
     */
    record Truncate(long sizeBytes) implements ExerciseOp {
        public String format() {
            return "truncate " + sizeBytes;
        }

        public ExerciseConfig.Kind kind() {
            return ExerciseConfig.Kind.TRUNCATE;
        }
    }

    /** fsync: {@code fsync}. */
    record Fsync() implements ExerciseOp {
        public String format() {
            return "fsync";
        }

        public ExerciseConfig.Kind kind() {
            return ExerciseConfig.Kind.FSYNC;
        }
    }

    /**
     * fallocate(ZERO_RANGE): {@code zero pos len keep}.
     *
     * @param posBytes file byte offset
     * @param lengthBytes range length in bytes
     * @param keepSize true for FALLOC_FL_KEEP_SIZE
     */
    record ZeroRange(long posBytes, long lengthBytes, boolean keepSize) implements ExerciseOp {
        public String format() {
            return "zero " + posBytes + " " + lengthBytes + (keepSize ? " keep" : " extend");
        }

        public ExerciseConfig.Kind kind() {
            return ExerciseConfig.Kind.ZERO;
        }
    }

    /**
     * fallocate(0 or KEEP_SIZE): {@code allocate pos len keep}.
     *
     * @param posBytes file byte offset
     * @param lengthBytes range length in bytes
     * @param keepSize true for FALLOC_FL_KEEP_SIZE
     */
    record Allocate(long posBytes, long lengthBytes, boolean keepSize) implements ExerciseOp {
        public String format() {
            return "falloc " + posBytes + " " + lengthBytes + (keepSize ? " keep" : " extend");
        }

        public ExerciseConfig.Kind kind() {
            return ExerciseConfig.Kind.FALLOCATE;
        }
    }

    /**
     * fallocate(PUNCH_HOLE | KEEP_SIZE): {@code punch pos len}.
     *
     * @param posBytes file byte offset
     * @param lengthBytes range length in bytes
     */
    record Punch(long posBytes, long lengthBytes) implements ExerciseOp {
        public String format() {
            return "punch " + posBytes + " " + lengthBytes;
        }

        public ExerciseConfig.Kind kind() {
            return ExerciseConfig.Kind.PUNCH;
        }
    }

    /**
     * O_DIRECT read: {@code dread pos len}.
     *
     * @param posBytes file byte offset (block aligned)
     * @param lengthBytes bytes to read (block aligned)
     */
    record DirectRead(long posBytes, int lengthBytes) implements ExerciseOp {
        public String format() {
            return "dread " + posBytes + " " + lengthBytes;
        }

        public ExerciseConfig.Kind kind() {
            return ExerciseConfig.Kind.DREAD;
        }
    }

    /**
     * O_DIRECT write: {@code dwrite pos len tag}.
     *
     * @param posBytes file byte offset (block aligned)
     * @param lengthBytes bytes to write (block aligned)
     * @param tag seeds the data pattern
     */
    record DirectWrite(long posBytes, int lengthBytes, long tag) implements ExerciseOp {
        public String format() {
            return "dwrite " + posBytes + " " + lengthBytes + " " + tag;
        }

        public ExerciseConfig.Kind kind() {
            return ExerciseConfig.Kind.DWRITE;
        }
    }

    /**
     * lseek(SEEK_DATA): {@code seek_data pos}.
     *
     * @param posBytes file byte offset to start at
     */
    record SeekData(long posBytes) implements ExerciseOp {
        public String format() {
            return "seek_data " + posBytes;
        }

        public ExerciseConfig.Kind kind() {
            return ExerciseConfig.Kind.SEEK_DATA;
        }
    }

    /**
     * lseek(SEEK_HOLE): {@code seek_hole pos}.
     *
     * @param posBytes file byte offset to start at
     */
    record SeekHole(long posBytes) implements ExerciseOp {
        public String format() {
            return "seek_hole " + posBytes;
        }

        public ExerciseConfig.Kind kind() {
            return ExerciseConfig.Kind.SEEK_HOLE;
        }
    }

    /** FIEMAP over the whole file: {@code fiemap}. */
    record Fiemap() implements ExerciseOp {
        public String format() {
            return "fiemap";
        }

        public ExerciseConfig.Kind kind() {
            return ExerciseConfig.Kind.FIEMAP;
        }
    }

    /** Drop clean caches: {@code drop_caches}. */
    record DropCaches() implements ExerciseOp {
        public String format() {
            return "drop_caches";
        }

        public ExerciseConfig.Kind kind() {
            return ExerciseConfig.Kind.DROP_CACHES;
        }
    }

    /** Unmount and mount again: {@code remount}. */
    record Remount() implements ExerciseOp {
        public String format() {
            return "remount";
        }

        public ExerciseConfig.Kind kind() {
            return ExerciseConfig.Kind.REMOUNT;
        }
    }

    /**
     * The data byte a write with {@code tag} puts at file offset {@code posBytes} (never the same pattern for two
     * tags at one offset, rarely zero).
     *
     * @param tag the write's tag
     * @param posBytes file byte offset
     * @return the byte
     */
    static byte dataByte(long tag, long posBytes) {
        long x = (posBytes + 1) * 0x9E3779B97F4A7C15L ^ tag * 0xC2B2AE3D27D4EB4FL;
        x ^= x >>> 29;
        return (byte) (x | 1);
    }

    /**
     * Parses one log line as written by {@link #format()}.
     *
     * @throws IllegalArgumentException for a malformed line, naming it
     * @param line a log line
     * @return the op
     */
    public static ExerciseOp parse(String line) {
        String[] w = line.trim().split("\\s+");
        try {
            return switch (w[0].toLowerCase(Locale.ROOT)) {
                case "read" -> new Read(Long.parseLong(w[1]), Integer.parseInt(w[2]));
                case "write" -> new Write(Long.parseLong(w[1]), Integer.parseInt(w[2]), Long.parseLong(w[3]));
                case "truncate" -> new Truncate(Long.parseLong(w[1]));
                case "fsync" -> new Fsync();
                case "zero" -> new ZeroRange(Long.parseLong(w[1]), Long.parseLong(w[2]), w[3].equals("keep"));
                case "falloc" -> new Allocate(Long.parseLong(w[1]), Long.parseLong(w[2]), w[3].equals("keep"));
                case "punch" -> new Punch(Long.parseLong(w[1]), Long.parseLong(w[2]));
                case "dread" -> new DirectRead(Long.parseLong(w[1]), Integer.parseInt(w[2]));
                case "dwrite" -> new DirectWrite(Long.parseLong(w[1]), Integer.parseInt(w[2]), Long.parseLong(w[3]));
                case "seek_data" -> new SeekData(Long.parseLong(w[1]));
                case "seek_hole" -> new SeekHole(Long.parseLong(w[1]));
                case "fiemap" -> new Fiemap();
                case "drop_caches" -> new DropCaches();
                case "remount" -> new Remount();
                default -> throw new IllegalArgumentException("unknown op in log line '" + line + "'");
            };
        } catch (ArrayIndexOutOfBoundsException | NumberFormatException e) {
            throw new IllegalArgumentException("malformed log line '" + line + "'", e);
        }
    }
}
