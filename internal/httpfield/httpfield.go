// Package httpfield holds the rules for HTTP header fields that a LoadTest may set,
// shared by the admission webhook (which explains them to the author) and the run
// plan (which the agent checks before it sends anything). It has no dependencies.
package httpfield

import (
	"fmt"
	"strings"
)

// agentOwned are the fields the agent writes itself, or that would change how a
// message is framed or how the connection is used (RFC 9110 section 7.6.1, RFC 9112,
// and RFC 9113 section 8.2.2, which forbids them in HTTP/2): a user's value for one
// could smuggle a second request or desynchronise the connection.
var agentOwned = []string{
	"host", "content-length", "transfer-encoding", "connection", "keep-alive",
	"proxy-connection", "te", "trailer", "upgrade",
}

// AgentOwned lists the field names a LoadTest may not set, in canonical case, for
// error messages.
var AgentOwned = []string{"Host", "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive",
	"Proxy-Connection", "TE", "Trailer", "Upgrade"}

// IsAgentOwned reports whether name (in any case) is one of AgentOwned.
func IsAgentOwned(name string) bool {
	for _, n := range agentOwned {
		if strings.EqualFold(name, n) {
			return true
		}
	}
	return false
}

// CheckName says what is wrong with name as a field name a LoadTest may set, or ""
// when nothing is: an RFC 9110 token (letters, digits and !#$%&'*+-.^_`|~), not
// agent-owned.
func CheckName(name string) string {
	if name == "" {
		return "must not be empty"
	}
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) {
			return fmt.Sprintf("must be an RFC 9110 token (letters, digits and !#$%%&'*+-.^_`|~), but byte %d is %q", i, name[i])
		}
	}
	if IsAgentOwned(name) {
		return fmt.Sprintf("is set by the agent, which owns the framing and connection headers (%s)", strings.Join(AgentOwned, ", "))
	}
	return ""
}

// CheckValue says what is wrong with value as a field value, or "" when nothing is:
// RFC 9110's field-value, visible ASCII, bytes 0x80-0xFF, and spaces and tabs inside
// (not at either end, which a recipient would strip). CR, LF, NUL and the other
// controls could end the field and start another.
func CheckValue(value string) string {
	for i := 0; i < len(value); i++ {
		c := value[i]
		switch {
		case c == '\r' || c == '\n':
			return fmt.Sprintf("must not contain CR or LF (byte %d): they would end the header and could inject others", i)
		case c == ' ' || c == '\t':
			if i == 0 || i == len(value)-1 {
				return fmt.Sprintf("must not start or end with a space or tab (byte %d): recipients strip them", i)
			}
		case c < 0x20 || c == 0x7f:
			return fmt.Sprintf("must not contain control characters (byte %d is 0x%02x)", i, c)
		}
	}
	return ""
}

// isTokenChar reports whether c is a tchar of RFC 9110 section 5.6.2.
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
