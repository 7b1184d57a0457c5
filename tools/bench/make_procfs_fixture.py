#!/usr/bin/env python3
"""Writes a synthetic GPU node (procfs + sysfs trees) for measuring prov-agent's own cost.

    tools/bench/make_procfs_fixture.py OUT_DIR [--processes 400] [--gpu-jobs 8] [--ranks 8]

OUT_DIR/sys: 8 H100 SXM5 devices (0x10de:0x2330) under bus/pci/devices.
OUT_DIR/proc: driver/nvidia/gpus/*/information, stat, sys/kernel/random/boot_id and
--processes processes. gpu_jobs x ranks of them are torchrun ranks of Slurm jobs (cgroup v2
layout, SLURM_* and torchrun environment, /dev/nvidiaN and /dev/nvidiactl fds, 12 TCP sockets
each, listed in their net/tcp); the rest are ordinary processes (systemd services, shells) with
a few non-device fds, so the agent's scan of every /proc/<pid>/fd is exercised at scale.
The layout follows tests/fixtures/agent/example-node (same files, same formats).
"""
import argparse
import os

GPUS = ["0000:18:00.0", "0000:2a:00.0", "0000:3a:00.0", "0000:5d:00.0",
        "0000:9a:00.0", "0000:ab:00.0", "0000:ba:00.0", "0000:db:00.0"]


def write(path, data, mode="w"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode) as f:
        f.write(data)


def make_sysfs(root):
    for i, addr in enumerate(GPUS):
        d = os.path.join(root, "sys/bus/pci/devices", addr)
        for name, value in [("vendor", "0x10de"), ("device", "0x2330"), ("class", "0x030200"),
                            ("subsystem_vendor", "0x10de"), ("subsystem_device", "0x16c1")]:
            write(os.path.join(d, name), value + "\n")
        os.symlink("../../../../bus/pci/drivers/nvidia", os.path.join(d, "driver"))
        write(os.path.join(root, "proc/driver/nvidia/gpus", addr, "information"),
              "Model: \t\t NVIDIA H100 80GB HBM3\nIRQ:   \t\t 166\n"
              f"GPU UUID: \t\t GPU-5e1b1c1a-0c36-4d6b-9f3a-7a2d4b8c9e{i:02x}\n"
              "Video BIOS: \t\t 96.00.99.00.01\nBus Type: \t\t PCIe\n"
              f"Bus Location: \t {addr}\nDevice Minor: \t\t {i}\nGPU Excluded:\t No\n")


def make_process(root, pid, ppid, comm, argv, env, cgroup, fds, tcp_lines):
    d = os.path.join(root, "proc", str(pid))
    write(os.path.join(d, "stat"),
          f"{pid} ({comm}) S {ppid} {pid} {pid} 0 -1 4194560 100 0 0 0 500 30 0 0 20 0 8 0 "
          f"{900000 + pid} 1000000 300 0\n")
    write(os.path.join(d, "status"), f"Name:\t{comm}\nPid:\t{pid}\nPPid:\t{ppid}\n"
          "Uid:\t1000\t1000\t1000\t1000\n")
    write(os.path.join(d, "cmdline"), "\0".join(argv) + "\0")
    write(os.path.join(d, "environ"), "".join(f"{k}={v}\0" for k, v in env))
    write(os.path.join(d, "cgroup"), cgroup + "\n")
    os.makedirs(os.path.join(d, "fd"), exist_ok=True)
    for n, target in enumerate(fds):
        os.symlink(target, os.path.join(d, "fd", str(n)))
    write(os.path.join(d, "net/tcp"),
          "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
          "timeout inode\n" + "".join(tcp_lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--processes", type=int, default=400)
    ap.add_argument("--gpu-jobs", type=int, default=8)
    ap.add_argument("--ranks", type=int, default=8)
    a = ap.parse_args()
    if a.gpu_jobs * a.ranks > a.processes:
        ap.error("--processes must be at least --gpu-jobs x --ranks")
    if os.path.exists(a.out):
        ap.error(f"{a.out} exists; give a new directory")
    root = a.out
    make_sysfs(root)
    write(os.path.join(root, "proc/stat"), "cpu  100 0 100 1000 0 0 0 0 0 0\nbtime 1732500000\n")
    write(os.path.join(root, "proc/sys/kernel/random/boot_id"),
          "6f1d2c3b-4a5e-4f60-8a71-92b3c4d5e6f7\n")
    pid, inode = 1000, 70000
    for job in range(a.gpu_jobs):
        job_id = 5000 + job
        for rank in range(a.ranks):
            gpu = (job + rank) % len(GPUS)
            socks = list(range(inode, inode + 12))
            inode += 12
            tcp = [f"  {n}: 0F00F40A:{0x9C40 + n:04X} {0x0701F40A + n:08X}:7539 01 "
                   f"00000000:00000000 00:00000000 00000000  1000        0 {s} 1 "
                   "0000000000000000 20 4 30 10 -1\n" for n, s in enumerate(socks)]
            make_process(
                root, pid, 900 + job, "python3",
                ["python3", "-u", "train.py", f"--config=job{job}.yaml"],
                [("SLURM_JOB_ID", job_id), ("SLURM_JOB_ACCOUNT", f"acct-{job % 3}"),
                 ("MASTER_ADDR", "10.20.0.11"), ("MASTER_PORT", 29500),
                 ("WORLD_SIZE", a.ranks), ("RANK", rank), ("LOCAL_RANK", rank),
                 ("HF_TOKEN", "hf_never_reported"), ("PATH", "/usr/bin")],
                f"0::/system.slice/slurmstepd.scope/job_{job_id}/step_0/user/task_{rank}",
                ["/dev/null", "/dev/nvidiactl", f"/dev/nvidia{gpu}", "/dev/nvidia-uvm"] +
                [f"socket:[{s}]" for s in socks], tcp)
            pid += 1
    for n in range(a.processes - a.gpu_jobs * a.ranks):
        make_process(root, pid, 1, f"svc{n}", [f"/usr/sbin/svc{n}", "--foreground"],
                     [("PATH", "/usr/bin"), ("HOME", "/root")],
                     f"0::/system.slice/svc{n}.service",
                     ["/dev/null", "/dev/null", "/dev/null", f"/var/log/svc{n}.log",
                      f"socket:[{inode}]"], [])
        pid, inode = pid + 1, inode + 1
    print(f"{root}: {a.processes} processes, {a.gpu_jobs * a.ranks} on 8 GPUs")


if __name__ == "__main__":
    main()
