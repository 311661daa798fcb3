package org.iomap4j.fuse;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.time.Duration;
import java.util.Set;

import org.iomap4j.fuse.testing.TrackedMemoryVfs;
import org.junit.jupiter.api.Test;

/**
 * The JIT warm-up drives the real request path: every reply it gets must succeed, and it must leave the scratch
 * filesystem as it found it — no files, no open handles, every lookup it took forgotten (checked against
 * {@link TrackedMemoryVfs}'s inode table and reference counts).
 */
final class FuseWarmupTest {
    @Test
    void one_round_leaves_the_scratch_filesystem_empty_with_lookups_balanced() throws IOException {
        TrackedMemoryVfs vfs = TrackedMemoryVfs.create();
        FuseWarmup.Result r = FuseWarmup.run(vfs, Duration.ZERO);

        assertThat(r.rounds()).isEqualTo(1);
        // 24 1 MiB writes and reads, 6000 + 2000 random ones, 8 + 8 direct, 400 files x (create, flush, release,
        // lookup, getattr, unlink) and more: well over 10,000 requests, each checked.
        assertThat(r.requests()).isGreaterThan(10_000);
        assertThat(vfs.reachableInodes()).containsExactly(vfs.rootIno());
        assertThat(vfs.inodeCount()).as("unlinked inodes still referenced by a lookup or a handle").isEqualTo(1);
        assertThat(vfs.refs(vfs.rootIno())).isZero();
    }

    @Test
    void rounds_repeat_at_least_the_minimum_and_stay_clean() throws IOException {
        TrackedMemoryVfs vfs = TrackedMemoryVfs.create();
        FuseWarmup.Result r = FuseWarmup.run(vfs, Duration.ofSeconds(60));

        assertThat(r.rounds()).isGreaterThanOrEqualTo(FuseWarmup.MIN_ROUNDS);
        assertThat(r.elapsed()).isPositive();
        assertThat(vfs.reachableInodes()).isEqualTo(Set.of(vfs.rootIno()));
        assertThat(vfs.inodeCount()).isEqualTo(1);
    }

    @Test
    void compiler_threads_cpu_time_is_readable_from_proc() {
        // The warm-up's wait for idle compilers reads it; -1 would mean the wait is skipped.
        assertThat(FuseWarmup.compilerCpuTicks()).isGreaterThanOrEqualTo(0);
    }

    @Test
    void a_failed_request_fails_the_warm_up_naming_the_opcode_and_errno() throws IOException {
        TrackedMemoryVfs vfs = TrackedMemoryVfs.create();
        vfs.mkdir(vfs.rootIno(), "dir0", 0755, 0, 0); // the warm-up's first MKDIR then meets EEXIST

        assertThatThrownBy(() -> FuseWarmup.run(vfs, Duration.ZERO))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("MKDIR")
                .hasMessageContaining("errno 17");
    }
}
