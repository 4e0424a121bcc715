package agent

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dilo-operator/dilo/internal/report/podreport"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want errClass
	}{
		{&net.DNSError{Err: "no such host", Name: "svc.ns.svc", IsNotFound: true}, classDNS},
		{&net.OpError{Op: "dial", Err: &net.DNSError{IsTimeout: true}}, classDNS},
		{cnameError(t), classDNS},
		{&net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, classTimeout},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, classRefused},
		{&net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, classReset},
		{&net.OpError{Op: "write", Err: os.NewSyscallError("write", syscall.EPIPE)}, classReset},
		{io.EOF, classReset},
		{io.ErrUnexpectedEOF, classReset},
		{errMalformed, classOther},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.EHOSTUNREACH)}, classOther},
		{errors.New("anything"), classOther},
	} {
		if got := classify(tc.err); got != tc.want {
			t.Errorf("classify(%v) = %s, want %s", tc.err, classNames[got], classNames[tc.want])
		}
	}
}

// TestClassNamesArePodreportClasses: every class the agent counts has a name the
// manager's parser accepts, and every name the parser accepts can be counted.
func TestClassNamesArePodreportClasses(t *testing.T) {
	if diff := cmp.Diff(podreport.Classes, classNames[classNone+1:]); diff != "" {
		t.Errorf("classNames are not podreport.Classes (-podreport +agent):\n%s", diff)
	}
}
