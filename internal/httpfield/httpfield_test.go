package httpfield

import (
	"strings"
	"testing"
)

func TestCheckName(t *testing.T) {
	tests := []struct {
		name string
		want string // substring of the problem; "" for none
	}{
		{"Authorization", ""},
		{"x-trace_id", ""},
		{"A!#$%&'*+-.^_`|~z", ""},
		{"", "empty"},
		{"Bad Name", "byte 3"},
		{"X:Y", "byte 1"},
		{"X\r\nY", "byte 1"},
		{"é", "byte 0"},
		{"host", "set by the agent"},
		{"Content-Length", "set by the agent"},
		{"TRANSFER-ENCODING", "set by the agent"},
		{"Connection", "set by the agent"},
		{"te", "set by the agent"},
		{"Upgrade", "set by the agent"},
		{"Proxy-Connection", "set by the agent"},
	}
	for _, tc := range tests {
		got := CheckName(tc.name)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("CheckName(%q) = %q, want a problem containing %q", tc.name, got, tc.want)
		}
	}
}

func TestCheckValue(t *testing.T) {
	tests := []struct {
		value string
		want  string
	}{
		{"", ""},
		{"Bearer abc.def", ""},
		{"a\tb", ""},
		{"caf\xc3\xa9", ""},
		{"a\r\nX-Injected: 1", "CR or LF"},
		{"a\nb", "CR or LF"},
		{" a", "start or end"},
		{"a\t", "start or end"},
		{"a\x00b", "0x00"},
		{"a\x7fb", "0x7f"},
	}
	for _, tc := range tests {
		got := CheckValue(tc.value)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("CheckValue(%q) = %q, want a problem containing %q", tc.value, got, tc.want)
		}
	}
}
