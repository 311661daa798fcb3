package org.iomap4j.nio;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.AsynchronousFileChannel;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.CompletionHandler;
import java.nio.channels.FileLock;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;

/**
 * An {@link AsynchronousFileChannel} over a {@link VfsFileChannel}: each read, write and lock runs as a task on the
 * executor the channel was opened with (by default the file system's virtual-thread executor), and completes its
 * Future or CompletionHandler there. Positional operations only, as the JDK's. Locks are the file's in-process
 * locks ({@link FileLockTable}), acquired by this channel.
 */
final class VfsAsyncFileChannel extends AsynchronousFileChannel {
    private final VfsFileChannel ch;
    private final ExecutorService executor;

    VfsAsyncFileChannel(VfsFileChannel ch, ExecutorService executor) {
        this.ch = ch;
        this.executor = executor;
        ch.lockOwner(this);
    }

    private <T> Future<T> submit(Callable<T> task) {
        CompletableFuture<T> f = new CompletableFuture<>();
        if (!isOpen()) {
            f.completeExceptionally(new ClosedChannelException());
            return f;
        }
        executor.execute(() -> {
            try {
                f.complete(task.call());
            } catch (Throwable t) {
                f.completeExceptionally(t);
            }
        });
        return f;
    }

    private <T, A> void submit(Callable<T> task, A attachment, CompletionHandler<T, ? super A> handler) {
        if (!isOpen()) {
            executor.execute(() -> handler.failed(new ClosedChannelException(), attachment));
            return;
        }
        executor.execute(() -> {
            T r;
            try {
                r = task.call();
            } catch (Throwable t) {
                handler.failed(t, attachment);
                return;
            }
            handler.completed(r, attachment);
        });
    }

    @Override
    public long size() throws IOException {
        return ch.size();
    }

    @Override
    public AsynchronousFileChannel truncate(long size) throws IOException {
        ch.truncate(size);
        return this;
    }

    @Override
    public void force(boolean metaData) throws IOException {
        ch.force(metaData);
    }

    @Override
    public <A> void lock(long position, long size, boolean shared, A attachment,
            CompletionHandler<FileLock, ? super A> handler) {
        submit(() -> ch.tryLock(position, size, shared), attachment, handler);
    }

    @Override
    public Future<FileLock> lock(long position, long size, boolean shared) {
        return submit(() -> ch.tryLock(position, size, shared));
    }

    @Override
    public FileLock tryLock(long position, long size, boolean shared) throws IOException {
        return ch.tryLock(position, size, shared);
    }

    @Override
    public <A> void read(ByteBuffer dst, long position, A attachment,
            CompletionHandler<Integer, ? super A> handler) {
        checkPosition(position);
        submit(() -> ch.read(dst, position), attachment, handler);
    }

    @Override
    public Future<Integer> read(ByteBuffer dst, long position) {
        checkPosition(position);
        return submit(() -> ch.read(dst, position));
    }

    @Override
    public <A> void write(ByteBuffer src, long position, A attachment,
            CompletionHandler<Integer, ? super A> handler) {
        checkPosition(position);
        submit(() -> ch.write(src, position), attachment, handler);
    }

    @Override
    public Future<Integer> write(ByteBuffer src, long position) {
        checkPosition(position);
        return submit(() -> ch.write(src, position));
    }

    private static void checkPosition(long position) {
        if (position < 0) {
            throw new IllegalArgumentException("negative position " + position);
        }
    }

    @Override
    public boolean isOpen() {
        return ch.isOpen();
    }

    @Override
    public void close() throws IOException {
        ch.close();
    }
}
