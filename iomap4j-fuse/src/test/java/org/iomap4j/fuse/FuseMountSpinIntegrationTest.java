package org.iomap4j.fuse;

import java.time.Duration;

/**
 * The whole mount suite again with readers that poll for the next request after answering
 * ({@link FuseOptions#spinAfterReply()}): the spin must never lose, duplicate or reorder an answer.
 */
final class FuseMountSpinIntegrationTest extends FuseMountIntegrationTest {
    @Override
    FuseOptions.Builder options() {
        return FuseOptions.builder().spinAfterReply(Duration.ofNanos(50_000));
    }
}
