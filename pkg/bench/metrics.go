package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// samples are the series of a Prometheus text exposition, by name with
// labels as written ("name{a=\"b\"}"), summed over labels under the bare name.
type samples map[string]float64

func (s samples) value(name string) float64 { return s[name] }

// byLabel sums, for each value of label, the series of name that carry it.
func (s samples) byLabel(name, label string) map[string]float64 {
	out := map[string]float64{}
	prefix := name + "{"
	for k, v := range s {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		_, rest, ok := strings.Cut(k, label+`="`)
		if !ok {
			continue
		}
		value, _, _ := strings.Cut(rest, `"`)
		out[value] += v
	}
	return out
}

// sub is s minus an earlier scrape: what happened in between.
func (s samples) sub(before samples) samples {
	out := samples{}
	for k, v := range s {
		out[k] = v - before[k]
	}
	return out
}

// parseText reads the few things the bench needs from the text format: a
// sample per line, name (with labels) then value. Comments are skipped.
func parseText(r io.Reader) (samples, error) {
	out := samples{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		series := line[:i]
		out[series] = v
		if j := strings.IndexByte(series, '{'); j >= 0 {
			out[series[:j]] += v
		}
	}
	return out, sc.Err()
}

// gatherText renders reg as the text format and parses it back.
func gatherText(reg *prometheus.Registry) (samples, error) {
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return parseText(bytes.NewReader(rec.Body.Bytes()))
}

// scrape reads a node's /metrics.
func scrape(ctx context.Context, addr string) (samples, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("bench: metrics of %s: %w", addr, err)
	}
	defer resp.Body.Close()
	return parseText(resp.Body)
}
