// Command runc is runc, minus the capabilities this host cannot grant.
//
// Docker's --privileged (and a privileged pod's securityContext) asks runc for every
// capability the runtime knows. On a machine whose capability bounding set lacks some of
// them (CAP_SYS_RESOURCE, on the machines DiLO's CI runs on), runc cannot raise them and
// refuses to start the container: "unable to apply caps: operation not permitted". A
// privileged process there could never hold those capabilities anyway, so this wrapper
// removes them from the container's (or the exec'd process's) capability sets and hands
// over to the real runc with the arguments unchanged.
//
// On a host whose bounding set is full it changes nothing: it execs runc at once.
// dockerd runs it as its default runtime (--add-runtime, --default-runtime) and the
// containerd of DiLO's kind node as the runc binary of its runc runtime.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	if err := run(os.Args); err != nil {
		fmt.Fprintf(os.Stderr, "dilo runc wrapper: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	runc, err := realRunc()
	if err != nil {
		return err
	}
	bounding, err := boundingSet()
	if err != nil {
		return err
	}
	if missing := missingCaps(bounding); len(missing) > 0 {
		if file, isProcess := specFile(args[1:]); file != "" {
			if err := filterFile(file, isProcess, missing); err != nil {
				return err
			}
		}
	}
	return syscall.Exec(runc, append([]string{runc}, args[1:]...), os.Environ())
}

// realRunc is the first runc found in the usual places that is not this program.
func realRunc() (string, error) {
	self, _ := os.Executable()
	selfInfo, _ := os.Stat(self)
	for _, p := range []string{"/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc", "/usr/local/bin/runc"} {
		fi, err := os.Stat(p)
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 || (selfInfo != nil && os.SameFile(fi, selfInfo)) {
			continue
		}
		return p, nil
	}
	return "", fmt.Errorf("no runc found besides %s", self)
}

// boundingSet reads this process's capability bounding set (CapBnd in /proc/self/status).
func boundingSet() (uint64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return 0, fmt.Errorf("no CapBnd line in /proc/self/status")
}

// capNames are the capabilities by number, as the OCI runtime spec names them.
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
	"CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
	"CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// missingCaps names the known capabilities that the bounding set lacks.
func missingCaps(bounding uint64) map[string]bool {
	missing := map[string]bool{}
	for i, n := range capNames {
		if bounding&(1<<i) == 0 {
			missing[n] = true
		}
	}
	return missing
}

// specFile finds, in runc's arguments, the file holding the capabilities to filter: the
// bundle's config.json for create and run (the bundle defaults to the working directory),
// the --process file for exec. It returns "" when there is none (other commands, or exec
// with its process given as flags).
func specFile(args []string) (file string, isProcess bool) {
	cmd, bundle, process := "", "", ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		value := func(long, short string) (string, bool) {
			for _, f := range []string{long, short} {
				if a == f && i+1 < len(args) {
					i++
					return args[i], true
				}
				if v, ok := strings.CutPrefix(a, f+"="); ok {
					return v, true
				}
			}
			return "", false
		}
		if v, ok := value("--bundle", "-b"); ok {
			bundle = v
			continue
		}
		if v, ok := value("--process", "-p"); ok {
			process = v
			continue
		}
		if cmd == "" && !strings.HasPrefix(a, "-") {
			cmd = a
		}
		// runc's global flags that take a value, so that the value is not taken for the command
		if cmd == "" && (a == "--root" || a == "--log" || a == "--log-format" || a == "--criu") {
			i++
		}
	}
	switch cmd {
	case "create", "run":
		if bundle == "" {
			bundle = "."
		}
		return filepath.Join(bundle, "config.json"), false
	case "exec":
		return process, process != ""
	}
	return "", false
}

// filterFile rewrites file with the missing capabilities removed, when it holds any.
func filterFile(file string, isProcess bool, missing map[string]bool) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	out, changed, err := filterCaps(b, isProcess, missing)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if !changed {
		return nil
	}
	fi, err := os.Stat(file)
	if err != nil {
		return err
	}
	return os.WriteFile(file, out, fi.Mode().Perm())
}

// filterCaps removes the missing capabilities from every capability set of an OCI spec
// (its process) or of an OCI process. Numbers and unknown fields are kept as they were.
func filterCaps(spec []byte, isProcess bool, missing map[string]bool) ([]byte, bool, error) {
	dec := json.NewDecoder(bytes.NewReader(spec))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, false, err
	}
	process := doc
	if !isProcess {
		process, _ = doc["process"].(map[string]any)
	}
	caps, _ := process["capabilities"].(map[string]any)
	changed := false
	for set, v := range caps {
		list, ok := v.([]any)
		if !ok {
			continue
		}
		kept := make([]any, 0, len(list))
		for _, c := range list {
			if s, ok := c.(string); ok && missing[s] {
				changed = true
				continue
			}
			kept = append(kept, c)
		}
		caps[set] = kept
	}
	if !changed {
		return spec, false, nil
	}
	out, err := json.Marshal(doc)
	return out, true, err
}
