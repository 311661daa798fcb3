package org.iomap4j.testkit.block;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.iomap4j.block.Bio;
import org.iomap4j.block.ForwardingBlockDevice;
import org.iomap4j.block.MemoryBlockDevice;

/**
 * Crash points for crash-consistency tests: a device over a {@link FaultInjectingBlockDevice} that, while armed,
 * takes a power-cut image just before and just after every flush and, with probability {@code pointsPerWrite},
 * after a write or write bio, and hands each image to a {@link CrashCheck} (the test's oracle: e2fsck, debugfs,
 * a model of what was promised durable). The kept fraction of unflushed writes at each point is 0, 1 or uniform
 * random, each a third of the time, so that both extremes are always tried. Like dm-log-writes replay points, but
 * checked in place.
 *
 * <p>Results: {@link #pointsTested()}, {@link #pointsPassed()} and the problems in {@link #failures()}. A check
 * runs on the writing thread (also inside a bio's completion); it must not write to this device. Seeded by the
 * caller's {@link Random}: print the seed.
 */
public final class CrashPointBlockDevice extends ForwardingBlockDevice {

    /** The oracle for one crashed image. */
    @FunctionalInterface
    public interface CrashCheck {
        /**
         * Checks a crashed image (the whole device's bytes after the power cut).
         *
         * @param image   the device's bytes, {@code sizeBytes()} long
         * @param context which crash point: its number, where (before/after a flush, after a write), the last
         *                operation named by {@link #setLastOp}, the number of unflushed writes and the kept fraction
         * @return null if every promise holds, else a description of what failed (collected in {@link #failures()})
         * @throws IOException if the check itself cannot run (tool missing, I/O error)
         */
        String check(byte[] image, String context) throws IOException;
    }

    private final FaultInjectingBlockDevice fid;
    private final Random rnd;
    private final double pointsPerWrite;
    private final CrashCheck check;
    private volatile boolean armed;
    private volatile String lastOp = "mount";
    private int pointsTested;
    private int pointsPassed;
    private final List<String> failures = new ArrayList<>();

    /**
     * Takes crash points on writes to {@code fid}'s device and checks each crashed image with {@code check}.
     *
     * @param fid            the device that records unflushed writes and performs the power cut
     * @param rnd            chooses the random crash points and kept writes (seeded by the test)
     * @param pointsPerWrite probability of a crash point after each write, in [0, 1]
     * @param check          the oracle run on each crashed image
     */
    public CrashPointBlockDevice(FaultInjectingBlockDevice fid, Random rnd, double pointsPerWrite, CrashCheck check) {
        super(fid);
        if (!(pointsPerWrite >= 0 && pointsPerWrite <= 1)) {
            throw new IllegalArgumentException("pointsPerWrite must be in [0, 1]: " + pointsPerWrite);
        }
        this.fid = fid;
        this.rnd = rnd;
        this.pointsPerWrite = pointsPerWrite;
        this.check = check;
    }

    /**
     * Starts or stops taking crash points (e.g. off while mounting, on for the workload).
     *
     * @param armed true to take crash points
     */
    public void setArmed(boolean armed) {
        this.armed = armed;
    }

    /**
     * Names the operation now running, for the context of the following crash points.
     *
     * @param op a short name of the operation, e.g. {@code "rename a b"}
     */
    public void setLastOp(String op) {
        this.lastOp = op;
    }

    /**
     * Crash points taken so far.
     *
     * @return the number of crash points taken
     */
    public synchronized int pointsTested() {
        return pointsTested;
    }

    /**
     * Crash points whose image passed the check.
     *
     * @return the number that passed
     */
    public synchronized int pointsPassed() {
        return pointsPassed;
    }

    /**
     * What failed at each failing crash point, in order (a copy).
     *
     * @return the failure descriptions
     */
    public synchronized List<String> failures() {
        return List.copyOf(failures);
    }

    /**
     * Takes one crash point now if armed: power-cuts a copy of the device and checks it.
     *
     * @param where names the point in the failure report
     * @throws IOException if copying the device or running the check fails
     */
    public synchronized void crashPoint(String where) throws IOException {
        if (!armed) {
            return;
        }
        double keep = switch (rnd.nextInt(3)) {
            case 0 -> 0.0;
            case 1 -> 1.0;
            default -> rnd.nextDouble();
        };
        int unflushed = fid.unflushedWrites();
        byte[] bytes;
        try (MemoryBlockDevice crashed = fid.powerCut(rnd, keep)) {
            bytes = crashed.toByteArray();
        }
        pointsTested++;
        String ctx = "crash point " + pointsTested + " (" + where + ", during/after '" + lastOp + "', " + unflushed
                + " unflushed writes, keep " + String.format("%.2f", keep) + ")";
        String problem = check.check(bytes, ctx);
        if (problem == null) {
            pointsPassed++;
        } else {
            failures.add(problem);
        }
    }

    /** Draws whether a crash point follows this write (always drawn, armed or not, so a seed replays exactly). */
    private synchronized boolean pointAfterWrite() {
        return rnd.nextDouble() < pointsPerWrite;
    }

    @Override
    public void write(long devAddrBytes, ByteBuffer src) throws IOException {
        super.write(devAddrBytes, src);
        if (pointAfterWrite()) {
            crashPoint("after a write");
        }
    }

    @Override
    public void write(long devAddrBytes, MemorySegment src) throws IOException {
        super.write(devAddrBytes, src);
        if (pointAfterWrite()) {
            crashPoint("after a write");
        }
    }

    @Override
    public void flush() throws IOException {
        crashPoint("before a flush");
        super.flush();
        crashPoint("after a flush");
    }

    @Override
    public CompletableFuture<Void> submit(Bio bio) {
        CompletableFuture<Void> f = super.submit(bio);
        if (bio.op() != Bio.Op.READ && pointAfterWrite()) {
            return f.thenRun(() -> {
                try {
                    crashPoint("after a bio");
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
        return f;
    }
}
