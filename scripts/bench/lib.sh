# Helpers the benchmark scripts share; source it: . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# median: the median of the numbers on stdin, one per line ("NA" for none); %.6g.
median() { sort -g | awk '{a[NR]=$1} END{ if(NR==0){print "NA"; exit} if(NR%2){print a[(NR+1)/2]} else {printf "%.6g\n",(a[NR/2]+a[NR/2+1])/2} }'; }

# free_port FROM: the first port from FROM up with no TCP or UDP listener on it.
free_port() { local p="$1"; while [ -n "$(ss -Htuln "( sport = :$p )" 2>/dev/null)" ]; do p=$((p + 1)); done; echo "$p"; }
