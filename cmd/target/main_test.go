package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHandler(t *testing.T) {
	h := newHandler()
	for _, tc := range []struct {
		path string
		code int
		min  time.Duration
	}{
		{"/", 200, 0},
		{"/anything", 200, 0},
		{"/healthz", 200, 0},
		{"/status/503", 503, 0},
		{"/status/204", 204, 0},
		{"/status/abc", 400, 0},
		{"/status/99", 400, 0},
		{"/slow?ms=30", 200, 30 * time.Millisecond},
		{"/slow?ms=x", 400, 0},
	} {
		t.Run(tc.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			start := time.Now()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
			if rec.Code != tc.code {
				t.Errorf("GET %s: code %d, want %d", tc.path, rec.Code, tc.code)
			}
			if took := time.Since(start); took < tc.min {
				t.Errorf("GET %s took %v, want at least %v", tc.path, took, tc.min)
			}
		})
	}
}

func TestRequestsCountsByHost(t *testing.T) {
	h := newHandler()
	for _, host := range []string{"web.a.svc", "web.a.svc", "other"} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Host = host
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/healthz", nil))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/requests", nil))
	if got, want := strings.TrimSpace(rec.Body.String()), `{"other":1,"web.a.svc":2}`; got != want {
		t.Errorf("GET /requests = %s; want %s", got, want)
	}
}
