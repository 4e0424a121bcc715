//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestMetricsEndpoint scrapes the deployed manager's metrics as Prometheus does: over
// HTTPS through the metrics Service, with a ServiceAccount token. Only a token whose
// ServiceAccount is bound to the metrics-reader ClusterRole gets them; the manager asks
// the API server with a TokenReview and a SubjectAccessReview (its metrics-auth role).
func TestMetricsEndpoint(t *testing.T) {
	ns := newNamespace(t)
	token := map[string]string{}
	for _, name := range []string{"prometheus", "stranger"} {
		if _, err := clientset.CoreV1().ServiceAccounts(ns).Create(ctx(t),
			&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		tr, err := clientset.CoreV1().ServiceAccounts(ns).CreateToken(ctx(t), name, &authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr[int64](600)},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("failed to request a token for ServiceAccount %s: %v", name, err)
		}
		token[name] = tr.Status.Token
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-metrics-reader-" + ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "dilo-metrics-reader"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "prometheus"}},
	}
	create(t, binding)
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), binding) })

	url := portForward(t, "dilo-system", "svc/dilo-controller-manager-metrics-service", 8443) + "/metrics"
	// The manager serves a self-signed certificate unless --metrics-cert-path is set
	// (config/prometheus says the same of its ServiceMonitor).
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
	scrape := func(token string) (int, string, error) {
		req, err := http.NewRequestWithContext(ctx(t), http.MethodGet, url, nil)
		if err != nil {
			return 0, "", err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), err
	}

	for _, tc := range []struct {
		name, token string
		wantCode    int
		wantBody    []string
	}{
		{"no token", "", http.StatusUnauthorized, []string{"Unauthorized"}},
		{"a token without the role", token["stranger"], http.StatusForbidden,
			[]string{"Authorization denied for user system:serviceaccount:" + ns + ":stranger"}},
		{"a token bound to metrics-reader", token["prometheus"], http.StatusOK,
			[]string{"\ndilo_loadtest_runs{state=\"pending\"} ", "\ngo_goroutines "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The binding takes effect when the API server's authorizer has seen it; a
			// denial is remembered by the manager for 30 s at most.
			eventually(t, time.Minute, "GET "+url+" answers "+fmt.Sprint(tc.wantCode), func() (bool, string) {
				code, body, err := scrape(tc.token)
				if err != nil {
					return false, err.Error()
				}
				for _, want := range tc.wantBody {
					if !strings.Contains(body, want) {
						return false, fmt.Sprintf("%d, body without %q: %.300s", code, want, body)
					}
				}
				return code == tc.wantCode, fmt.Sprintf("%d %.300s", code, body)
			})
		})
	}
}

// portForward forwards a free local port to port of target (a kubectl resource, e.g.
// svc/name) in namespace ns until the test ends, and returns https://127.0.0.1:<local>.
func portForward(t *testing.T, ns, target string, port int) string {
	t.Helper()
	c, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(c, kubectlPath(), "port-forward", "-n", ns, "--address", "127.0.0.1", target, fmt.Sprintf(":%d", port))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("failed to start kubectl port-forward: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	// kubectl prints "Forwarding from 127.0.0.1:<local> -> <port>" once it listens.
	forwarding := regexp.MustCompile(`^Forwarding from 127\.0\.0\.1:(\d+) -> `)
	found := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			if m := forwarding.FindStringSubmatch(s.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case local := <-found:
		return "https://127.0.0.1:" + local
	case <-time.After(30 * time.Second):
		t.Fatalf("kubectl port-forward -n %s %s printed no local port in 30s: %s", ns, target, stderr.String())
		return ""
	}
}
