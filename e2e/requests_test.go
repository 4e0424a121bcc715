//go:build e2e

package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

// TestRequestMix runs a LoadTest as a real service needs it: headers (one from a
// Secret), a JSON POST body from a ConfigMap, a three-request weighted mix and a
// ramping arrival rate split over two pods. The target records what it was sent: the
// exact header values and body bytes asked for, each request's share within 2% of its
// weight; and the Secret's value is in no pod spec, Event, log line or status.
func TestRequestMix(t *testing.T) {
	ns := newNamespace(t)
	secretValue := "Bearer e2e-" + randomHex(t, 12)
	order := `{"item": 42, "quantity": 1, "note": "<b>&</b>"}`
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api-token"}, StringData: map[string]string{"token": secretValue + "\n"}})
	create(t, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "payloads"}, Data: map[string]string{"order.json": order}})
	lt := &dilov1.LoadTest{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shop"},
		Spec: dilov1.LoadTestSpec{Replicas: 2, Test: dilov1.TestSpec{
			ServiceName: "nginx",
			Headers: []dilov1.Header{
				{Name: "Authorization", ValueFrom: &dilov1.ValueSource{SecretKeyRef: &dilov1.KeyRef{Name: "api-token", Key: "token"}}},
				{Name: "X-Team", Value: ptr("perf")},
			},
			Requests: []dilov1.Request{
				{Name: "list", Weight: ptr[int32](6), Path: "/items?page=1"},
				{Name: "order", Weight: ptr[int32](3), Method: "POST", Path: "/orders",
					Headers: []dilov1.Header{{Name: "Content-Type", Value: ptr("application/json")}, {Name: "X-Team", Value: ptr("orders")}},
					Body:    &dilov1.Body{ValueFrom: &dilov1.ValueSource{ConfigMapKeyRef: &dilov1.KeyRef{Name: "payloads", Key: "order.json"}}}},
				{Name: "ping", Weight: ptr[int32](1), Method: "HEAD", Path: "/ping"},
			},
			Concurrency: ptr[int32](8),
			// 0 -> 200 req/s over 5 s, then 200 req/s for 5 s: 500 + 1000 requests in all.
			Stages: []dilov1.Stage{{DurationSeconds: 5, TotalRate: ptr[int32](200)}, {DurationSeconds: 5, TotalRate: ptr[int32](200)}},
		}},
	}
	create(t, lt)
	lt = waitState(t, lt, dilov1.StateFinished, 3*time.Minute)
	res := lt.Status.Results
	if res == nil || res.Requests != 1500 || res.Errors != 0 {
		t.Fatalf("results %+v; want 1500 requests without errors", res)
	}
	shares := map[string]int64{}
	for _, r := range res.ByRequest {
		shares[r.Name] = r.Requests
	}
	for name, weight := range map[string]float64{"list": 0.6, "order": 0.3, "ping": 0.1} {
		if got := float64(shares[name]) / float64(res.Requests); math.Abs(got-weight) > 0.02 {
			t.Errorf("request %s: %.3f of the requests, want %.1f within 0.02 (byRequest %+v)", name, got, weight, res.ByRequest)
		}
	}

	rec := recordOf(t, ns)
	list, post, ping := rec.Requests["GET /items?page=1"], rec.Requests["POST /orders"], rec.Requests["HEAD /ping"]
	if list.Count != shares["list"] || post.Count != shares["order"] || ping.Count != shares["ping"] {
		t.Errorf("the target saw list %d, order %d, ping %d; the results say %v", list.Count, post.Count, ping.Count, shares)
	}
	for what, g := range map[string]recordGroup{"list": list, "order": post, "ping": ping} {
		if got := g.Headers["Authorization"].Values; len(got) != 1 || got[secretValue] != g.Count {
			t.Errorf("%s: %d distinct Authorization values, the Secret's on %d requests; want the Secret's value (without its newline) on all %d",
				what, len(got), got[secretValue], g.Count)
		}
	}
	if got := list.Headers["X-Team"].Values; got["perf"] != list.Count || len(got) != 1 {
		t.Errorf("list: X-Team %v, want perf on all %d", got, list.Count)
	}
	if got := post.Headers["X-Team"].Values; got["orders"] != post.Count || len(got) != 1 {
		t.Errorf("order: X-Team %v, want the request's own value on all %d", got, post.Count)
	}
	if got := post.Headers["Content-Type"].Values; got["application/json"] != post.Count {
		t.Errorf("order: Content-Type %v", got)
	}
	sum := sha256.Sum256([]byte(order))
	if b := post.Bodies.Values[hex.EncodeToString(sum[:])]; b.Count != post.Count || b.Length != int64(len(order)) || len(post.Bodies.Values) != 1 {
		t.Errorf("order: bodies %+v; want the ConfigMap's %d bytes on all %d", post.Bodies, len(order), post.Count)
	}

	// Nowhere but in the Secret and on the wire.
	var pods corev1.PodList
	if err := k8s.List(ctx(t), &pods, client.InNamespace(ns), client.MatchingLabels{dilov1.LabelLoadTest: lt.Name}); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if b, _ := json.Marshal(p); strings.Contains(string(b), secretValue) {
			t.Errorf("pod %s holds the Secret's value", p.Name)
		}
		logs, err := clientset.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{}).DoRaw(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(logs), secretValue) {
			t.Errorf("pod %s's log holds the Secret's value", p.Name)
		}
	}
	var events corev1.EventList
	if err := k8s.List(ctx(t), &events, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(events); strings.Contains(string(b), secretValue) {
		t.Errorf("an Event holds the Secret's value")
	}
	if b, _ := json.Marshal(get(t, lt)); strings.Contains(string(b), secretValue) {
		t.Errorf("the LoadTest holds the Secret's value")
	}
}

// TestHTTPS sends over TLS to a Service whose certificate a CA in a ConfigMap signed:
// HTTP/2 is negotiated when asked, and a wrong CA fails the run with reason TLSFailed.
func TestHTTPS(t *testing.T) {
	ns := newNamespace(t)
	caPEM, certPEM, keyPEM := servingCert(t, "web-tls."+ns+".svc")
	otherCA, _, _ := servingCert(t, "web-tls."+ns+".svc")
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web-tls"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{"tls.crt": certPEM, "tls.key": keyPEM, "ca.crt": caPEM}})
	create(t, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "trust"}, Data: map[string]string{"ca.crt": string(caPEM), "other.crt": string(otherCA)}})
	for _, o := range tlsTargetObjects(ns, "web-tls") {
		create(t, o)
	}
	eventually(t, 2*time.Minute, "the TLS target to be available", func() (bool, string) {
		d := get(t, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web-tls"}})
		return d.Status.AvailableReplicas >= 1, fmt.Sprintf("%+v", d.Status)
	})
	https := func(name, caKey, protocol string) *dilov1.LoadTest {
		return &dilov1.LoadTest{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: dilov1.LoadTestSpec{Replicas: 1, Test: dilov1.TestSpec{
				ServiceName: "web-tls", Port: ptr(intstr.FromString("https")), Path: "/tls", Repeat: ptr[int32](50), Concurrency: ptr[int32](4),
				TLS:      &dilov1.TLS{CA: &dilov1.ValueSource{ConfigMapKeyRef: &dilov1.KeyRef{Name: "trust", Key: caKey}}},
				Protocol: protocol,
			}},
		}
	}
	h1, h2, wrong := https("h1", "ca.crt", ""), https("h2", "ca.crt", dilov1.ProtocolHTTP2), https("wrong-ca", "other.crt", "")
	wrong.Spec.Test.Path = "/wrong"
	for _, lt := range []*dilov1.LoadTest{h1, h2, wrong} {
		create(t, lt)
	}
	for _, lt := range []*dilov1.LoadTest{h1, h2} {
		got := waitState(t, lt, dilov1.StateFinished, 3*time.Minute)
		if r := got.Status.Results; r == nil || r.Requests != 50 || r.Errors != 0 {
			t.Errorf("%s: results %+v; want 50 requests without errors", lt.Name, r)
		}
	}
	got := waitState(t, wrong, dilov1.StateFailed, 3*time.Minute)
	c := findCondition(got, dilov1.ConditionFailed)
	if c == nil || c.Reason != dilov1.ReasonTLSFailed || !strings.Contains(c.Message, "50 of 50 requests failed the TLS handshake") || !strings.Contains(c.Message, "x509") {
		t.Errorf("wrong CA: Failed condition %+v; want %s naming the x509 error", c, dilov1.ReasonTLSFailed)
	}
	// Both finished runs went to /tls: 50 over HTTP/1.1 and 50 over HTTP/2; the wrong CA's none.
	rec := recordOf(t, ns, "app=web-tls")
	if g := rec.Requests["GET /tls"]; g.Protocols["HTTP/1.1"] != 50 || g.Protocols["HTTP/2.0"] != 50 {
		t.Errorf("the TLS target saw protocols %v on /tls; want 50 HTTP/1.1 and 50 HTTP/2.0", g.Protocols)
	}
	if g, ok := rec.Requests["GET /wrong"]; ok {
		t.Errorf("the TLS target served %d requests of the run with the wrong CA", g.Count)
	}
}

// record is what /target's /record says it served.
type record struct {
	Requests map[string]recordGroup `json:"requests"`
}

// recordGroup is what /target served for one "METHOD URI".
type recordGroup struct {
	Count     int64            `json:"count"`
	Protocols map[string]int64 `json:"protocols"`
	Headers   map[string]struct {
		Values map[string]int64 `json:"values"`
	} `json:"headers"`
	Bodies struct {
		Values map[string]struct {
			Count  int64 `json:"count"`
			Length int64 `json:"length"`
		} `json:"values"`
	} `json:"bodies"`
}

// recordOf asks the target pods of ns (label app=dilo-target, or selector) what they
// served, through the API server's pod proxy, and adds it up.
func recordOf(t *testing.T, ns string, selector ...string) record {
	t.Helper()
	sel := "app=dilo-target"
	if len(selector) > 0 {
		sel = selector[0]
	}
	total := record{Requests: map[string]recordGroup{}}
	for _, pod := range podsOf(t, ns, sel) {
		raw, err := clientset.CoreV1().Pods(ns).ProxyGet("http", pod, "8080", "/record", nil).DoRaw(ctx(t))
		if err != nil {
			t.Fatalf("failed to ask pod %s/%s what it recorded: %v", ns, pod, err)
		}
		var r record
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatalf("pod %s/%s recorded %q: %v", ns, pod, raw, err)
		}
		for k, g := range r.Requests {
			if _, dup := total.Requests[k]; dup {
				t.Fatalf("%s served by more than one target pod: this helper does not add groups up", k)
			}
			total.Requests[k] = g
		}
	}
	return total
}

// tlsTargetObjects are a /target serving HTTP on 8080 and HTTPS (HTTP/2 and HTTP/1.1)
// on 8443 with the Secret name's tls.crt and tls.key, behind a Service name with
// ports http (80) and https (443).
func tlsTargetObjects(ns, name string) []client.Object {
	objs := TargetObjects(ns, image)
	d, svc := objs[0].(*appsv1.Deployment), objs[1].(*corev1.Service)
	labels := map[string]string{"app": name}
	d.Name, d.Labels, d.Spec.Selector.MatchLabels, d.Spec.Template.Labels = name, labels, labels, labels
	svc.Name, svc.Labels, svc.Spec.Selector = name, labels, labels
	c := &d.Spec.Template.Spec.Containers[0]
	c.Command = []string{"/target", "-tls-cert=/tls/tls.crt", "-tls-key=/tls/tls.key", "-tls-addr=:8443"}
	c.Ports = append(c.Ports, corev1.ContainerPort{Name: "https", ContainerPort: 8443})
	c.VolumeMounts = []corev1.VolumeMount{{Name: "tls", MountPath: "/tls", ReadOnly: true}}
	d.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName: name, DefaultMode: ptr[int32](0o444)}}}}
	svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Name: "https", Port: 443, TargetPort: intstr.FromString("https")})
	return objs
}

// servingCert makes a CA and a serving certificate for dnsName signed by it, in PEM.
func servingCert(t *testing.T, dnsName string) (caPEM, certPEM, keyPEM []byte) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dilo e2e CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: dnsName}, DNSNames: []string{dnsName},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// randomHex is n random bytes in hex.
func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
