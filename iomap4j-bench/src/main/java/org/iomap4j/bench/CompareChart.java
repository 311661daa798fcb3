package org.iomap4j.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.style.Styler;

/**
 * Draws the PNG bar chart of {@code bench/compare-mount.sh}: one group per fio job, one bar per filesystem
 * (iomapfs, fuse2fs, kernel ext2), each job's throughput divided by fuse2fs's so that jobs in MiB/s, IOPS and
 * files/s share one logarithmic axis (fuse2fs = 1.0; the issue-4 target is iomapfs &ge; 1.0 on every job).
 *
 * <p>Input CSV (written by the script): header {@code job,unit,iomapfs,fuse2fs,kernel}, then one row per job;
 * an empty or non-numeric cell is a job that failed on that filesystem (drawn as a 0.01 stub).
 * Usage: {@code java -cp benchmarks.jar org.iomap4j.bench.CompareChart results.csv chart.png [title]}.
 */
public final class CompareChart {
    private CompareChart() {}

    /** Bar height for a job that failed on a filesystem (far below any real ratio on the log axis). */
    static final double MISSING = 0.01;

    public static void main(String[] args) throws IOException {
        if (args.length < 2) {
            System.err.println("usage: CompareChart results.csv chart.png [title]");
            System.exit(2);
        }
        List<String> lines = Files.readAllLines(Path.of(args[0]), StandardCharsets.UTF_8);
        String[] fsNames = {"iomapfs", "fuse2fs", "kernel"};
        List<String> jobs = new ArrayList<>();
        List<List<Double>> series = new ArrayList<>();
        for (int k = 0; k < fsNames.length; k++) {
            series.add(new ArrayList<>());
        }
        for (String line : lines.subList(1, lines.size())) {
            String[] c = line.split(",", -1);
            if (c.length < 5) {
                continue;
            }
            double base = parse(c[3]);
            jobs.add(c[0] + " (" + c[1] + ")");
            for (int k = 0; k < fsNames.length; k++) {
                double v = parse(c[2 + k]);
                // A failed job is drawn as a stub at MISSING (labelled in the legend note): XChart's log axis
                // rejects nulls and zeroes.
                series.get(k).add(Double.isNaN(v) || Double.isNaN(base) || v <= 0 ? MISSING : v / base);
            }
        }
        String title = args.length > 2 ? args[2] : "iomapfs vs fuse2fs vs kernel ext2 (throughput / fuse2fs)";
        CategoryChart chart = new CategoryChartBuilder().width(1400).height(700).title(title)
                .xAxisTitle("job (a 0.01 stub = the job failed on that filesystem)")
                .yAxisTitle("throughput relative to fuse2fs (log scale)").build();
        chart.getStyler().setYAxisLogarithmic(true);
        chart.getStyler().setYAxisMin(MISSING);
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNW);
        chart.getStyler().setXAxisLabelRotation(20);
        chart.getStyler().setLabelsVisible(true);
        chart.getStyler().setDecimalPattern("0.00");
        for (int k = 0; k < fsNames.length; k++) {
            chart.addSeries(fsNames[k], jobs, series.get(k));
        }
        BitmapEncoder.saveBitmap(chart, args[1], BitmapEncoder.BitmapFormat.PNG);
        System.out.println("chart: " + args[1]);
    }

    private static double parse(String s) {
        try {
            return s.isBlank() ? Double.NaN : Double.parseDouble(s.trim());
        } catch (NumberFormatException e) {
            return Double.NaN; // an "error" cell: the job failed on that filesystem
        }
    }
}
