package plugin

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/dilo-operator/dilo/internal/testenv"
)

// TestKrewManifest holds dist/krew/dilo.yaml to what krew needs and to the release
// scheme its comment describes: the plugin named dilo, the binary kubectl-dilo on every
// platform, each archive named for its version, OS and architecture, each digest a
// SHA-256 (64 hex digits; zeros until a release exists).
func TestKrewManifest(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "dist", "krew", "dilo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Spec struct {
			Version          string `json:"version"`
			Homepage         string `json:"homepage"`
			ShortDescription string `json:"shortDescription"`
			Description      string `json:"description"`
			Caveats          string `json:"caveats"`
			Platforms        []struct {
				Selector struct {
					MatchLabels map[string]string `json:"matchLabels"`
				} `json:"selector"`
				URI    string `json:"uri"`
				SHA256 string `json:"sha256"`
				Bin    string `json:"bin"`
			} `json:"platforms"`
		} `json:"spec"`
	}
	if err := yaml.UnmarshalStrict(data, &m); err != nil {
		t.Fatal(err)
	}
	if m.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || m.Kind != "Plugin" || m.Metadata.Name != "dilo" {
		t.Errorf("%s %s %s, want a krew Plugin named dilo", m.APIVersion, m.Kind, m.Metadata.Name)
	}
	if !regexp.MustCompile(`^v\d+\.\d+\.\d+$`).MatchString(m.Spec.Version) || m.Spec.ShortDescription == "" {
		t.Errorf("version %q, shortDescription %q", m.Spec.Version, m.Spec.ShortDescription)
	}
	if len(m.Spec.Platforms) == 0 {
		t.Fatal("no platforms")
	}
	digest := regexp.MustCompile(`^[0-9a-f]{64}$`)
	for _, p := range m.Spec.Platforms {
		osName, arch := p.Selector.MatchLabels["os"], p.Selector.MatchLabels["arch"]
		bin := "kubectl-dilo"
		if osName == "windows" {
			bin += ".exe"
		}
		archive := "/releases/download/" + m.Spec.Version + "/kubectl-dilo_" + m.Spec.Version + "_" + osName + "_" + arch + ".tar.gz"
		if p.Bin != bin || !strings.HasSuffix(p.URI, archive) || !digest.MatchString(p.SHA256) {
			t.Errorf("platform %s/%s: bin %q, uri %q, sha256 %q; want %q, ...%s, 64 hex digits", osName, arch, p.Bin, p.URI, p.SHA256, bin, archive)
		}
	}
}
