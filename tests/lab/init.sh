#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-or-later
# /init of the balloon-oom lab guest (busybox). Loads the modules listed in
# /lib/modules/load-order, then serves commands read from ttyS1 (the host's
# control socket). Replies go back on ttyS1, framed so the host can parse them:
#   @@FILE <path>        base64 of the file, then   @@END <rc>
#   @@CMD <name>         base64 of stdout+stderr,   @@END <rc>
#   @@LINK <path> <target>
#   @@MISSING <path>
#   @@DONE <command> <rc> uptime=<s>     (end of every command)
# Human-readable progress goes to the console (ttyS0), lines starting "@@ ".
/bin/busybox mkdir -p /bin /sbin /proc /sys /dev /tmp
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
up() { cut -d' ' -f1 /proc/uptime; }
echo "@@ INIT-START uptime=$(up)"
# Whole OOM reports (KERN_WARNING and KERN_INFO lines) on the console, so the
# host sees "invoked oom-killer" as well as "Killed process" in serial.log.
echo 7 > /proc/sys/kernel/printk
for m in $(cat /lib/modules/load-order); do
	insmod /lib/modules/$m.ko || echo "@@ insmod $m failed"
done
# Extra modules some scenarios need: lab_modules=a,b on the kernel command line.
for m in $(tr ' ' '\n' </proc/cmdline | sed -n 's/^lab_modules=//p' | tr ',' ' '); do
	insmod /lib/modules/$m.ko || echo "@@ insmod $m failed"
done
mount -t debugfs none /sys/kernel/debug
exec 3</dev/ttyS1 4>/dev/ttyS1
stty -F /dev/ttyS1 raw -echo
echo "@@ READY uptime=$(up)"
# python -m tests.lab shell: also a shell on the console for a human.
if grep -q lab_shell /proc/cmdline; then
	setsid sh -c 'exec sh -i </dev/ttyS0 >/dev/ttyS0 2>&1' &
fi
echo "@@READY $(uname -r)" >&4

send_file() {
	if [ -e "$1" ]; then
		echo "@@FILE $1" >&4
		base64 "$1" >&4 2>/dev/null
		echo "@@END $?" >&4
	else
		echo "@@MISSING $1" >&4
	fi
}
send_cmd() {
	name=$1; shift
	"$@" >/tmp/out 2>&1
	rc=$?
	echo "@@CMD $name" >&4
	base64 /tmp/out >&4
	echo "@@END $rc" >&4
}
send_link() {
	echo "@@LINK $1 $(readlink "$1")" >&4
}
send_tree() {
	[ -d "$1" ] || { echo "@@MISSING $1" >&4; return; }
	for f in $(find "$1" -type f ! -path '*/sections/*' ! -path '*/notes/*' 2>/dev/null); do
		send_file "$f"
	done
}
# virtio-mem: the driver's devices, its module, the memory blocks and iomem.
capture_vmem() {
	send_file /proc/iomem
	for d in /sys/bus/virtio/drivers/virtio_mem/virtio*; do
		[ -e "$d" ] || continue
		send_link "$d"
		for a in features device vendor status modalias; do
			send_file "$d/$a"
		done
	done
	send_tree /sys/module/virtio_mem
	for f in block_size_bytes auto_online_blocks; do
		send_file /sys/devices/system/memory/$f
	done
	for b in /sys/devices/system/memory/memory*; do
		for a in state online valid_zones phys_index removable; do
			send_file "$b/$a"
		done
	done
}
capture() {
	for f in /proc/meminfo /proc/vmstat /proc/zoneinfo /proc/uptime \
		/proc/sys/kernel/osrelease /proc/buddyinfo /proc/cmdline /proc/modules \
		/proc/sys/vm/overcommit_memory /sys/kernel/vmcoreinfo; do
		send_file $f
	done
	for d in /sys/bus/virtio/drivers/virtio_balloon/virtio*; do
		[ -e "$d" ] || continue
		send_link "$d"
		for a in features device vendor status modalias; do
			send_file "$d/$a"
		done
	done
	send_tree /sys/module/virtio_balloon
	[ -d /sys/bus/virtio/drivers/virtio_mem ] && capture_vmem
	send_tree /sys/kernel/debug/virtio-balloon
	send_cmd uname_-a uname -a
	send_cmd uname_-r uname -r
	send_cmd lsmod lsmod
	send_cmd ls_sys_kernel_debug ls /sys/kernel/debug
	send_cmd ls_qemu_fw_cfg ls /sys/firmware/qemu_fw_cfg/by_name/etc
	send_cmd dmesg dmesg
	if [ -d /sys/fs/cgroup/lab ]; then
		for a in memory.max memory.current memory.peak memory.events memory.stat \
			cpuset.mems cpuset.mems.effective; do
			send_file /sys/fs/cgroup/lab/$a
		done
	fi
}
run_hog() {
	echo "@@ hog start uptime=$(up)"
	/bin/hog $1
	rc=$?
	echo "@@ hog exited rc=$rc uptime=$(up)"
	return $rc
}
run_memcg_hog() {
	mount -t cgroup2 none /sys/fs/cgroup
	echo +memory > /sys/fs/cgroup/cgroup.subtree_control
	mkdir -p /sys/fs/cgroup/lab
	echo "$1" > /sys/fs/cgroup/lab/memory.max
	echo "@@ memcg lab memory.max=$(cat /sys/fs/cgroup/lab/memory.max) uptime=$(up)"
	sh -c 'echo $$ > /sys/fs/cgroup/lab/cgroup.procs && exec /bin/hog'
	rc=$?
	echo "@@ hog exited rc=$rc uptime=$(up)"
	return $rc
}
# cpuset-hog NODES: the hog in cgroup v2 "lab" with cpuset.mems=NODES (a
# two-node guest): its OOM is CONSTRAINT_CPUSET.
run_cpuset_hog() {
	mount -t cgroup2 none /sys/fs/cgroup
	echo +cpuset > /sys/fs/cgroup/cgroup.subtree_control
	mkdir -p /sys/fs/cgroup/lab
	echo 0 > /sys/fs/cgroup/lab/cpuset.cpus
	echo "$1" > /sys/fs/cgroup/lab/cpuset.mems
	echo "@@ cpuset lab mems=$(cat /sys/fs/cgroup/lab/cpuset.mems.effective) uptime=$(up)"
	sh -c 'echo $$ > /sys/fs/cgroup/lab/cgroup.procs && exec /bin/hog'
	rc=$?
	echo "@@ hog exited rc=$rc uptime=$(up)"
	return $rc
}
# flood N: N debug-level records written to /dev/kmsg (the kernel's ring
# buffer; "<7>" keeps them off the console), so older lines rotate out.
# Needs printk.devkmsg=on (otherwise user writes are rate limited).
run_flood() {
	exec 5>/dev/kmsg
	i=0
	while [ $i -lt "$1" ]; do
		echo "<7>lab-flood $i ................................................................................" >&5
		i=$((i + 1))
	done
	exec 5>&-
	echo "@@ flood wrote $1 records uptime=$(up)"
}
# sysrq-f MIB: a hog holding MIB MiB, then a manual OOM kill (SysRq f).
# Before Linux v5.17 (commit f530243a172d) a sysrq OOM kills nothing when an
# OOM notifier freed pages (deflate-on-oom): the hog then lives on, and is
# ended here with SIGTERM after 20 s (exit status 143, not 137).
run_sysrq_f() {
	/bin/hog "$1" hold >/tmp/hog.log 2>&1 &
	pid=$!
	until grep -q "reached limit" /tmp/hog.log; do sleep 0.2; done
	echo "@@ hog holds $1 MiB, sysrq f uptime=$(up)"
	echo f > /proc/sysrq-trigger
	i=0
	while kill -0 $pid 2>/dev/null && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
	if kill -0 $pid 2>/dev/null; then
		echo "@@ sysrq-f: hog still alive after 20 s, SIGTERM uptime=$(up)"
		kill -TERM $pid
	fi
	wait $pid
	rc=$?
	cat /tmp/hog.log
	echo "@@ hog exited rc=$rc uptime=$(up)"
	return $rc
}

while read -r cmd arg <&3; do
	echo "@@ GOT $cmd $arg uptime=$(up)"
	rc=0
	case "$cmd" in
	capture) capture ;;
	hog) run_hog $arg; rc=$? ;;
	memcg-hog) run_memcg_hog "${arg:-64M}"; rc=$? ;;
	cpuset-hog) run_cpuset_hog "${arg:-1}"; rc=$? ;;
	flood) run_flood "${arg:-4000}" ;;
	sysrq-f) run_sysrq_f "${arg:-64}"; rc=$? ;;
	ping) ;;
	poweroff) echo "@@DONE poweroff 0 uptime=$(up)" >&4; sync; poweroff -f ;;
	*) rc=127 ;;
	esac
	echo "@@DONE $cmd $rc uptime=$(up)" >&4
done
echo "@@ control channel closed"
sleep 1000000
