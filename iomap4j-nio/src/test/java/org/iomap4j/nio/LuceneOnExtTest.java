package org.iomap4j.nio;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.lucene.analysis.standard.StandardAnalyzer;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.IntPoint;
import org.apache.lucene.document.StoredField;
import org.apache.lucene.document.StringField;
import org.apache.lucene.document.TextField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.Term;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.store.Directory;
import org.apache.lucene.store.NIOFSDirectory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real client no one here wrote: Apache Lucene's NIOFSDirectory on a directory inside an ext4 image
 * ({@code mkfs.ext4 -O ^has_journal}: extents, metadata_csum, htree, 64bit, flex_bg; it found that an extent tree
 * block allocated below a file's data skipped the block bitmap's checksum, so a later delete failed after
 * removing the name and Lucene's retry saw NoSuchFileException), through the
 * provider only (FileChannel reads, output streams, atomic renames, directory fsync, NativeFSLockFactory's channel
 * lock). Oracles: exact hit counts computed from how the documents were generated, e2fsck -fn, and the kernel's
 * ext4 through a read-only loop mount showing the same index files with the same bytes.
 */
class LuceneOnExtTest {
    static final int DOCS = 100_000;
    static final String[] COLOURS = {"red", "green", "blue", "cyan", "magenta", "yellow", "black"};

    @TempDir
    Path tmp;

    static Document doc(int i) {
        Document d = new Document();
        d.add(new StringField("id", "doc" + i, Field.Store.YES));
        d.add(new TextField("body", "document number " + i + " colour " + COLOURS[i % 7] + (i % 10 == 0 ? " tenth" : "")
                + (i % 1000 == 0 ? " thousandth" : ""), Field.Store.NO));
        d.add(new IntPoint("n", i));
        d.add(new StoredField("n", i));
        return d;
    }

    @Test
    void indexCommitReopenSearchThenFsckAndKernelAgree() throws Exception {
        Path image = tmp.resolve("lucene.img");
        Map<String, byte[]> files = new TreeMap<>();
        long t0 = System.nanoTime();
        HostTools.Result mkfs = HostTools.mkfsExt4(image, 256L << 20,
                System.getProperty("iomap4j.lucene.mkfsO", "^has_journal"));
        assertThat(mkfs.exit()).as(mkfs.output()).isZero();
        try (FileSystem fs = FileSystems.newFileSystem(image)) {
            Path idx = fs.getPath("/data/index");
            try (Directory dir = new NIOFSDirectory(idx)) {
                IndexWriterConfig cfg = new IndexWriterConfig(new StandardAnalyzer()).setRAMBufferSizeMB(64);
                try (IndexWriter w = new IndexWriter(dir, cfg)) {
                    for (int i = 0; i < DOCS; i++) {
                        w.addDocument(doc(i));
                    }
                    w.commit();
                }
            }
            long indexNanos = System.nanoTime() - t0;
            long bytes = 0;
            int count = 0;
            try (var s = Files.list(idx)) {
                for (Path p : (Iterable<Path>) s::iterator) {
                    bytes += Files.size(p);
                    count++;
                }
            }
            System.out.printf("lucene %s: %d docs indexed and committed in %.1f s; index %d files, %d bytes%n",
                    org.apache.lucene.util.Version.LATEST, DOCS, indexNanos / 1e9, count, bytes);
        }
        HostTools.Result fsck = HostTools.fsck(image);
        assertThat(fsck.exit()).as(fsck.output()).isZero();

        // reopen (a new mount) and search
        try (FileSystem fs = FileSystems.newFileSystem(image, Map.of("readOnly", true));
                Directory dir = new NIOFSDirectory(fs.getPath("/data/index"));
                DirectoryReader reader = DirectoryReader.open(dir)) {
            assertThat(reader.numDocs()).isEqualTo(DOCS);
            IndexSearcher s = new IndexSearcher(reader);
            for (int c = 0; c < 7; c++) {
                int expected = (DOCS - c + 6) / 7;
                assertThat(s.count(new TermQuery(new Term("body", COLOURS[c])))).as(COLOURS[c]).isEqualTo(expected);
            }
            assertThat(s.count(new TermQuery(new Term("body", "tenth")))).isEqualTo(DOCS / 10);
            assertThat(s.count(new TermQuery(new Term("body", "thousandth")))).isEqualTo(DOCS / 1000);
            BooleanQuery both = new BooleanQuery.Builder()
                    .add(new TermQuery(new Term("body", "tenth")), BooleanClause.Occur.MUST)
                    .add(new TermQuery(new Term("body", "red")), BooleanClause.Occur.MUST).build();
            assertThat(s.count(both)).isEqualTo((DOCS + 69) / 70); // i % 70 == 0
            assertThat(s.count(IntPoint.newRangeQuery("n", 1000, 1999))).isEqualTo(1000);
            TopDocs hit = s.search(new TermQuery(new Term("id", "doc12345")), 5);
            assertThat(hit.totalHits.value()).isEqualTo(1);
            assertThat(s.storedFields().document(hit.scoreDocs[0].doc).getField("n").numericValue().intValue())
                    .isEqualTo(12345);
            try (var list = Files.list(fs.getPath("/data/index"))) {
                for (Path p : (Iterable<Path>) list::iterator) {
                    files.put(p.getFileName().toString(), Files.readAllBytes(p));
                }
            }
        }
        assertThat(files).containsKey("write.lock").anySatisfy((k, v) -> assertThat(k).startsWith("segments_"));

        String why = HostTools.loopMountUnavailable();
        if (why != null) {
            System.out.println(why);
            return;
        }
        try (HostTools.LoopMount m = new HostTools.LoopMount(image, tmp.resolve("nio-lucene-mnt"))) {
            Path kidx = m.dir.resolve("data/index");
            List<String> names = new ArrayList<>();
            try (var s = Files.list(kidx)) {
                s.forEach(p -> names.add(p.getFileName().toString()));
            }
            assertThat(names).containsExactlyInAnyOrderElementsOf(files.keySet());
            for (Map.Entry<String, byte[]> e : files.entrySet()) {
                assertThat(Files.readAllBytes(kidx.resolve(e.getKey()))).as(e.getKey()).isEqualTo(e.getValue());
            }
            System.out.println("kernel loop mount: the same " + files.size() + " index files, byte for byte");
        }
    }
}
