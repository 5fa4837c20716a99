# Graphs of make bench, drawn in docs/bench from the files summarize.py wrote.
set terminal pngcairo size 800,450 font "sans,10"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set grid ytics
set key top right

set output "cache.png"
set title "IOVAs still cached after the seed 003 burst (4 CPUs x 5000)"
set ylabel "cached IOVAs"
set yrange [0:*]
plot "cache.dat" using 2:xtic(1) title "vanilla 6.1", "" using 3 title "patched"

set output "latency.png"
set title "Latency ratios (1.00 = no cost)"
set ylabel "ratio"
set yrange [0.8:1.2]
unset key
plot "latency.dat" using 2:xtic(1) notitle, 1 with lines lc rgb "gray" notitle

