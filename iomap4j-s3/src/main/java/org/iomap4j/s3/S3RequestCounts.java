package org.iomap4j.s3;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import software.amazon.awssdk.core.interceptor.Context;
import software.amazon.awssdk.core.interceptor.ExecutionAttributes;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.core.interceptor.SdkExecutionAttribute;

/**
 * Counts the S3 requests a mount's client makes, by operation name ("HeadObject", "PutObject", "UploadPart"...):
 * an SDK execution interceptor (one count per call, retries not counted), and their time (call to answer, retries
 * included). For tests and diagnostics ({@code iomapfs mount --stats}).
 */
final class S3RequestCounts implements ExecutionInterceptor {
    private static final software.amazon.awssdk.core.interceptor.ExecutionAttribute<Long> STARTED =
            new software.amazon.awssdk.core.interceptor.ExecutionAttribute<>("iomap4j.startedNanos");
    private final Map<String, LongAdder> counts = new ConcurrentHashMap<>();
    private final Map<String, LongAdder> nanos = new ConcurrentHashMap<>();

    private static String op(ExecutionAttributes attributes) {
        String op = attributes.getAttribute(SdkExecutionAttribute.OPERATION_NAME);
        return op == null ? "?" : op;
    }

    @Override
    public void beforeExecution(Context.BeforeExecution context, ExecutionAttributes attributes) {
        counts.computeIfAbsent(op(attributes), k -> new LongAdder()).increment();
        attributes.putAttribute(STARTED, System.nanoTime());
    }

    @Override
    public void afterExecution(Context.AfterExecution context, ExecutionAttributes attributes) {
        elapsed(attributes);
    }

    @Override
    public void onExecutionFailure(Context.FailedExecution context, ExecutionAttributes attributes) {
        elapsed(attributes);
    }

    private void elapsed(ExecutionAttributes attributes) {
        Long t0 = attributes.getAttribute(STARTED);
        if (t0 != null) {
            nanos.computeIfAbsent(op(attributes), k -> new LongAdder()).add(System.nanoTime() - t0);
        }
    }

    /** Requests so far with their mean time: "HeadObject 300 (4.1 ms)", sorted by operation. */
    String summary() {
        StringBuilder b = new StringBuilder();
        snapshot().forEach((op, n) -> {
            long ns = nanos.getOrDefault(op, new LongAdder()).sum();
            b.append(b.isEmpty() ? "" : ", ").append(op).append(' ').append(n)
                    .append(String.format(java.util.Locale.ROOT, " (%.1f ms)", ns / 1e6 / Math.max(1, n)));
        });
        return b.toString();
    }

    /** Requests so far, by operation name (a sorted snapshot). */
    Map<String, Long> snapshot() {
        Map<String, Long> out = new TreeMap<>();
        counts.forEach((k, v) -> out.put(k, v.sum()));
        return out;
    }
}
