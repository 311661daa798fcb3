package org.iomap4j.testkit.exercise;

/**
 * An exerciser run found the target disagreeing with the model (or failing an operation): the message carries
 * the seed, the failing op and its number, expected versus actual bytes at the first difference, and the op-log
 * tail, so the run can be reproduced ({@code --seed}) or replayed from the log.
 */
public final class ExerciseFailure extends Exception {
    /** The run's seed. */
    private final long seed;
    /** Zero-based number of the failing op. */
    private final long opIndex;

    ExerciseFailure(String message, long seed, long opIndex, Throwable cause) {
        super(message, cause);
        this.seed = seed;
        this.opIndex = opIndex;
    }

    /**
     * The run's seed.
     *
     * @return the seed
     */
    public long seed() {
        return seed;
    }

    /**
     * Zero-based number of the failing op.
     *
     * @return the op number
     */
    public long opIndex() {
        return opIndex;
    }
}
