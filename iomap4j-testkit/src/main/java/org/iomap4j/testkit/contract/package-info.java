/**
 * Abstract JUnit 5 contract suites that any implementation runs by extending them and supplying a factory, as
 * Lucene's test framework does with {@code BaseDirectoryTestCase}:
 * {@link org.iomap4j.testkit.contract.BlockDeviceContract} (the {@code BlockDevice} class contract),
 * {@link org.iomap4j.testkit.contract.VfsContract} (the POSIX behaviour the {@code Vfs} javadoc promises, its
 * capabilities tested only when offered, plus a seeded random sequence against a model) and
 * {@link org.iomap4j.testkit.contract.IomapOpsContract} (what a filesystem's mapping must guarantee to the iomap
 * iterator and data path). Each prints the seed of its randomness; an implementation that cannot meet one case
 * overrides that method with {@code @Disabled("reason: ...")}.
 */
package org.iomap4j.testkit.contract;
