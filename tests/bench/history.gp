# history.png: each ratio of make bench over commits (history.py writes the
# history-<metric>.dat files and runs this in docs/bench).  A point is the
# ratio over all rounds, its bar the range of the rounds on their own (the
# noise band); a red circle marks a point whose bar misses the band of the
# points before it.
set terminal pngcairo size 1000,700 font "sans,9"
set output "history.png"
set multiplot layout 2,2 title "make bench ratios over commits (bar: the rounds' range; red: outside the band of the points before)"
set grid ytics
set xtics rotate by -30
# n: the number of points (history.py passes it)
set xrange [-0.5:n - 0.5]
set offsets 0, 0, graph 0.08, graph 0.08
unset key

panel(file) = sprintf("plot '%s' using 1:3:4:5:xtic(2) with yerrorlines lc rgb '#3060a0' pt 7 ps 0.6, '' using 1:($6 > 0 ? $3 : 1/0) with points lc rgb 'red' pt 6 ps 2.5, 1 with lines lc rgb 'gray' dt 2", file)

set title "patched/vanilla, map+unmap latency (TCG)"
eval panel("history-latency.dat")
set title "patched/vanilla, cache fast path (TCG)"
eval panel("history-hot_path.dat")
set title "iovatop attached/not, patched kernel (counters)"
eval panel("history-iovatop_counters.dat")
set title "iovatop attached/not, vanilla kernel (fentry)"
eval panel("history-iovatop_fentry.dat")
unset multiplot
