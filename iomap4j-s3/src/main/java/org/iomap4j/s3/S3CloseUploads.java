package org.iomap4j.s3;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.function.Consumer;

/**
 * Background uploads after close() ({@link S3MountOptions#asyncClose()}): each closed file's upload runs on a
 * virtual thread, at most {@link #IN_FLIGHT} at a time over the mount, one after the other for one file. A failed
 * upload is recorded on the file's errseq (its next fsync reports it) and, as every failed upload, kept in the
 * dirty log. fsync, sync, unlink and unmount wait for what is queued ({@link #await}, {@link #awaitAll}).
 *
 * <p>Locks: none held while waiting; the upload itself takes what a synchronous commit takes (the inode's page
 * cache, then {@code NetfsFile.commitLock}).
 */
final class S3CloseUploads {
    private static final System.Logger LOG = System.getLogger(S3CloseUploads.class.getName());
    /** Uploads after close running at once. */
    static final int IN_FLIGHT = 8;

    /** The upload of one file (writeback and commit). */
    @FunctionalInterface
    interface Upload {
        void run(S3Inode i) throws IOException;
    }

    private final Map<S3Inode, CompletableFuture<Void>> queued = new ConcurrentHashMap<>();
    private final Semaphore slots = new Semaphore(IN_FLIGHT);
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private final Upload upload;
    private final Consumer<S3Inode> afterUpload;

    /** Uploads with {@code upload}; {@code afterUpload} runs after each (eviction of a now clean inode). */
    S3CloseUploads(Upload upload, Consumer<S3Inode> afterUpload) {
        this.upload = upload;
        this.afterUpload = afterUpload;
    }

    /** Queues the upload of {@code i} (after any upload of it already queued). */
    void submit(S3Inode i) {
        CompletableFuture<Void> f = queued.compute(i, (k, prev) -> (prev == null
                ? CompletableFuture.<Void>completedFuture(null) : prev).handleAsync((x, t) -> {
                    slots.acquireUninterruptibly();
                    try {
                        upload.run(i);
                    } catch (IOException | RuntimeException e) {
                        IOException io = e instanceof IOException x2 ? x2 : new IOException(e);
                        i.mapping().errors().record(io);
                        LOG.log(System.Logger.Level.WARNING, "upload after close of '" + i.path() + "' failed: "
                                + e.getMessage() + " (kept in the dirty log; the next fsync reports it)");
                    } finally {
                        slots.release();
                    }
                    return null;
                }, executor));
        f.whenComplete((x, t) -> {
            queued.remove(i, f);
            afterUpload.accept(i);
        });
    }

    /** Waits until the uploads of {@code i} queued so far are done. */
    void await(S3Inode i) {
        CompletableFuture<Void> f = queued.get(i);
        if (f != null) {
            f.join();
        }
    }

    /** Waits until every upload queued so far is done. */
    void awaitAll() {
        for (CompletableFuture<Void> f : List.copyOf(queued.values())) {
            f.join();
        }
    }

    /** Waits for the queued uploads and stops the threads. */
    void close() {
        awaitAll();
        executor.shutdown();
    }
}
