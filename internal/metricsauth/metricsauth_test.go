package metricsauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/dilo-operator/dilo/internal/testenv"
)

// TestFilterOnAPIServer checks the filter's decisions against a real API server: a
// ServiceAccount bound to config/rbac's metrics-reader ClusterRole may GET /metrics and
// nothing else; another ServiceAccount, a bad token and no token may not.
func TestFilterOnAPIServer(t *testing.T) {
	env, err := testenv.Start(testenv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	ctx := context.Background()
	cs := kubernetes.NewForConfigOrDie(env.Config)
	ns, err := env.CreateNamespace(ctx, "metricsauth")
	if err != nil {
		t.Fatal(err)
	}

	reader := metricsReaderRole(t)
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, reader, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	token := map[string]string{}
	for _, name := range []string{"prometheus", "stranger"} {
		if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("failed to request a token for ServiceAccount %s: %v", name, err)
		}
		token[name] = tr.Status.Token
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "prometheus-" + ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: reader.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "prometheus"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// The HTTP client controller-runtime's metrics server passes is the manager's.
	httpClient, err := rest.HTTPClientFor(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	filter, err := Filter(env.Config, httpClient)
	if err != nil {
		t.Fatal(err)
	}
	h, err := filter(logr.Discard(), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "metrics")
	}))
	if err != nil {
		t.Fatal(err)
	}
	stranger := fmt.Sprintf("Authorization denied for user system:serviceaccount:%s:stranger\n", ns)
	prometheus := fmt.Sprintf("Authorization denied for user system:serviceaccount:%s:prometheus\n", ns)
	for _, tc := range []struct {
		name, method, path, authorization string
		wantCode                          int
		wantBody                          string
	}{
		{"no token", "GET", "/metrics", "", 401, "Unauthorized\n"},
		{"basic auth", "GET", "/metrics", "Basic YWRtaW46YWRtaW4=", 401, "Unauthorized\n"},
		{"bad token", "GET", "/metrics", "Bearer not-a-token", 401, "Unauthorized\n"},
		{"no rights", "GET", "/metrics", "Bearer " + token["stranger"], 403, stranger},
		{"metrics-reader", "GET", "/metrics", "Bearer " + token["prometheus"], 200, "metrics"},
		{"metrics-reader, lower-case scheme", "GET", "/metrics", "bearer " + token["prometheus"], 200, "metrics"},
		{"metrics-reader, another verb", "POST", "/metrics", "Bearer " + token["prometheus"], 403, prometheus},
		{"metrics-reader, another path", "GET", "/debug/pprof/", "Bearer " + token["prometheus"], 403, prometheus},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, nil)
			if tc.authorization != "" {
				req.Header.Set("Authorization", tc.authorization)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			got := fmt.Sprintf("%d %s", rec.Code, rec.Body.String())
			if want := fmt.Sprintf("%d %s", tc.wantCode, tc.wantBody); got != want {
				t.Errorf("%s %s: got %q, want %q", tc.method, tc.path, got, want)
			}
		})
	}
}

// metricsReaderRole is config/rbac's metrics-reader ClusterRole, read from disk so that
// the test checks the role DiLO ships.
func metricsReaderRole(t *testing.T) *rbacv1.ClusterRole {
	t.Helper()
	f, err := os.Open(filepath.Join(testenv.RepoRoot(), "config", "rbac", "metrics_reader_role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var role rbacv1.ClusterRole
	if err := yaml.NewYAMLOrJSONDecoder(f, 4096).Decode(&role); err != nil {
		t.Fatal(err)
	}
	return &role
}

// TestDecisionCache checks which decisions are reused and for how long, with fake
// reviews that count their calls.
func TestDecisionCache(t *testing.T) {
	cs := fake.NewClientset()
	reviews := 0
	var failReviews bool
	cs.PrependReactor("create", "tokenreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		reviews++
		if failReviews {
			return true, nil, errors.New("API server unavailable")
		}
		tr := a.(k8stesting.CreateAction).GetObject().(*authenticationv1.TokenReview)
		tr.Status = authenticationv1.TokenReviewStatus{
			Authenticated: tr.Spec.Token != "bad",
			User:          authenticationv1.UserInfo{Username: tr.Spec.Token},
		}
		return true, tr, nil
	})
	cs.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
		sar.Status.Allowed = sar.Spec.User == "reader"
		return true, sar, nil
	})
	now := time.Unix(1_800_000_000, 0)
	g := &guard{
		tokens:    cs.AuthenticationV1().TokenReviews(),
		access:    cs.AuthorizationV1().SubjectAccessReviews(),
		decisions: map[decisionKey]decision{},
		now:       func() time.Time { return now },
	}
	type outcome struct {
		Code    int
		Reviews int
		Err     bool
	}
	ask := func(token string) outcome {
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		before := reviews
		d, err := g.decide(req)
		return outcome{Code: d.code, Reviews: reviews - before, Err: err != nil}
	}
	var got []outcome
	got = append(got,
		ask("reader"), ask("reader"), // allowed, then from the cache
		ask("stranger"), ask("stranger"), // denied, then from the cache
		ask("bad"), // unauthenticated
	)
	now = now.Add(denyTTL + time.Second)
	got = append(got, ask("reader"), ask("stranger")) // the allowed decision lasts longer
	now = now.Add(allowTTL)
	got = append(got, ask("reader"))
	failReviews = true
	got = append(got, ask("new"), ask("new")) // errors are not remembered
	want := []outcome{
		{Code: 200, Reviews: 1}, {Code: 200},
		{Code: 403, Reviews: 1}, {Code: 403},
		{Code: 401, Reviews: 1},
		{Code: 200}, {Code: 403, Reviews: 1},
		{Code: 200, Reviews: 1},
		{Reviews: 1, Err: true}, {Reviews: 1, Err: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decisions (-want +got):\n%s", diff)
	}
	if n := len(g.decisions); n > 3 {
		t.Errorf("%d decisions remembered after expiry, want at most 3", n)
	}
}

// TestBearerToken checks which Authorization headers carry a token.
func TestBearerToken(t *testing.T) {
	for header, want := range map[string]string{
		"Bearer abc":  "abc",
		"bearer abc":  "abc",
		"BEARER  abc": "abc",
		"Bearer":      "",
		"Bearer ":     "",
		"Basic abc":   "",
		"":            "",
		"abc":         "",
	} {
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.Header.Set("Authorization", header)
		got, ok := bearerToken(req)
		if got != want || ok != (want != "") {
			t.Errorf("bearerToken(%q) = %q, %v; want %q", header, got, ok, want)
		}
	}
}
