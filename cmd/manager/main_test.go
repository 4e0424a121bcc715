package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

func TestParseWatchNamespaces(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        []string
		wantErr     []string // substrings of the error, nil: no error
	}{
		{name: "empty: every namespace", value: "", want: nil},
		{name: "blank: every namespace", value: "  ", want: nil},
		{name: "one", value: "team-a", want: []string{"team-a"}},
		{name: "two, sorted", value: "b,a", want: []string{"a", "b"}},
		{name: "spaces around", value: " a , b ", want: []string{"a", "b"}},
		{name: "duplicates once", value: "a,b,a", want: []string{"a", "b"}},
		{name: "empty entry", value: "a,,b", wantErr: []string{`""`}},
		{name: "trailing comma", value: "a,", wantErr: []string{`""`}},
		{name: "upper case", value: "Team-A", wantErr: []string{`"Team-A"`}},
		{name: "dots", value: "a.b", wantErr: []string{`"a.b"`}},
		{name: "too long", value: strings.Repeat("a", 64), wantErr: []string{"63"}},
		{name: "every bad entry named", value: "ok,Bad,also_bad", wantErr: []string{`"Bad"`, `"also_bad"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseWatchNamespaces(tc.value)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("parseWatchNamespaces(%q): %v", tc.value, err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("parseWatchNamespaces(%q) (-want +got):\n%s", tc.value, diff)
				}
				return
			}
			if err == nil {
				t.Fatalf("parseWatchNamespaces(%q) = %v; want an error naming %q", tc.value, got, tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("parseWatchNamespaces(%q): %v; want it to name %s", tc.value, err, w)
				}
			}
		})
	}
}

func TestCacheOptions(t *testing.T) {
	ownPods := labels.SelectorFromSet(labels.Set{dilov1.LabelManagedBy: dilov1.ManagedByDiLO}).String()
	for _, tc := range []struct {
		name       string
		namespaces []string
		want       []string // the cache's DefaultNamespaces, nil: every namespace
	}{
		{name: "every namespace", namespaces: nil, want: nil},
		{name: "two namespaces", namespaces: []string{"a", "b"}, want: []string{"a", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := cacheOptions(tc.namespaces)
			var got []string
			for ns := range o.DefaultNamespaces {
				got = append(got, ns)
			}
			slices.Sort(got)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("DefaultNamespaces (-want +got):\n%s", diff)
			}
			if len(o.ByObject) != 2 {
				t.Fatalf("ByObject has %d entries; want pods and LoadTests", len(o.ByObject))
			}
			for obj, by := range o.ByObject {
				switch obj.(type) {
				case *corev1.Pod:
					if by.Label == nil || by.Label.String() != ownPods || by.Transform == nil {
						t.Errorf("pods: label %v; want pods labelled %s, trimmed", by.Label, ownPods)
					}
				case *dilov1.LoadTest:
					if by.Label != nil || by.Transform == nil {
						t.Errorf("LoadTests: label %v; want every LoadTest, trimmed", by.Label)
					}
				default:
					t.Errorf("ByObject %T; want pods and LoadTests only", obj)
				}
			}
		})
	}
}
