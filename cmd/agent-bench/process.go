package main

import (
	"runtime"
	"syscall"
	"time"

	"github.com/dilo-operator/dilo/internal/agent"
)

// processSummary is the agent's summary line with what the process spent,
// to compare load generators by: not the run's result, so not the agent's.
type processSummary struct {
	agent.Summary
	CPUMicrosPerReq float64 `json:"cpuUsPerRequest"`
	MaxRSSKiB       int64   `json:"maxRssKiB"`
	GCCycles        uint32  `json:"gcCycles"`
}

// withProcess returns s with the process's CPU time per request, its peak
// resident memory and its garbage collections so far.
func withProcess(s agent.Summary) any {
	p := processSummary{Summary: s}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		if s.Requests > 0 {
			p.CPUMicrosPerReq = float64(cpu.Microseconds()) / float64(s.Requests)
		}
		p.MaxRSSKiB = ru.Maxrss
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	p.GCCycles = ms.NumGC
	return p
}
