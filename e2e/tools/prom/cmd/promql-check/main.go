// promql-check parses every PromQL expression of Prometheus rule files and
// Grafana dashboards with Prometheus' own parser, and checks that each one
// names only series in a list (the series ADE's binaries export).
//
//	promql-check --series series.txt alerts.yaml dashboard.json ...
//
// Rule files: every `expr` of `groups[].rules[]`, in a plain rule file or
// in the spec of a PrometheusRule. Dashboards (a .json file, or every .json
// key of a ConfigMap's data, as the chart renders them): every
// `targets[].expr` of every panel (rows included) and every
// `label_values(<selector>, <label>)` or `query_result(<expr>)` variable.
// Grafana's interval variables ($__rate_interval, $__interval, $__range)
// stand for a duration; other variables may appear only inside label values.
// Exit status 1 names each expression that does not parse, has a selector
// without a metric name, or names a series outside the list.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

type query struct {
	where string
	expr  string
}

var (
	intervals   = regexp.MustCompile(`\$(__rate_interval|__interval|__range)\b|\$\{(__rate_interval|__interval|__range)\}`)
	labelValues = regexp.MustCompile(`^\s*label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$`)
	queryResult = regexp.MustCompile(`^\s*query_result\((.*)\)\s*$`)
	plainName   = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
)

func main() {
	seriesFile := flag.String("series", "", "file listing the series that may be named, one per line (# comments)")
	flag.Parse()
	if *seriesFile == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: promql-check --series FILE RULES.yaml|DASHBOARD.json ...")
		os.Exit(2)
	}
	known, err := readSeries(*seriesFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var queries []query
	for _, f := range flag.Args() {
		qs, err := load(f)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", f, err)
			os.Exit(2)
		}
		queries = append(queries, qs...)
	}
	p := parser.NewParser(parser.Options{})
	problems, names := 0, map[string]bool{}
	for _, q := range queries {
		expr, err := p.ParseExpr(intervals.ReplaceAllString(q.expr, "5m"))
		if err != nil {
			fmt.Printf("%s: does not parse: %v\n  %s\n", q.where, err, q.expr)
			problems++
			continue
		}
		parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
			vs, ok := node.(*parser.VectorSelector)
			if !ok {
				return nil
			}
			selected := metricNames(vs)
			if len(selected) == 0 {
				fmt.Printf("%s: selector %s names no metric\n", q.where, vs)
				problems++
			}
			for _, name := range selected {
				if !known[name] {
					fmt.Printf("%s: %s is not a series ADE exports (%s)\n", q.where, name, *seriesFile)
					problems++
				} else {
					names[name] = true
				}
			}
			return nil
		})
	}
	if len(queries) == 0 {
		fmt.Println("no expressions found")
		os.Exit(1)
	}
	if problems > 0 {
		fmt.Printf("%d problems in %d expressions\n", problems, len(queries))
		os.Exit(1)
	}
	fmt.Printf("%d expressions parse and name %d exported series\n", len(queries), len(names))
}

// metricNames is the metric a selector names: its name, `__name__="x"`, or
// each of the plain alternatives of `__name__=~"x|y"`; none for any other
// selector (one that could match series nobody checked).
func metricNames(vs *parser.VectorSelector) []string {
	if vs.Name != "" {
		return []string{vs.Name}
	}
	for _, m := range vs.LabelMatchers {
		if m.Name != labels.MetricName {
			continue
		}
		switch m.Type {
		case labels.MatchEqual:
			return []string{m.Value}
		case labels.MatchRegexp:
			parts := strings.Split(m.Value, "|")
			for _, p := range parts {
				if !plainName.MatchString(p) {
					return nil
				}
			}
			return parts
		}
	}
	return nil
}

func readSeries(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	known := map[string]bool{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			known[line] = true
		}
	}
	return known, s.Err()
}

func load(path string) ([]query, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(path, ".json") {
		return dashboard(path, data)
	}
	return rules(path, data)
}

func rules(path string, data []byte) ([]query, error) {
	var kind struct {
		Kind string            `yaml:"kind"`
		Data map[string]string `yaml:"data"`
		Spec yaml.Node         `yaml:"spec"`
	}
	if err := yaml.Unmarshal(data, &kind); err != nil {
		return nil, err
	}
	switch kind.Kind {
	case "ConfigMap":
		var out []query
		for key, value := range kind.Data {
			if strings.HasSuffix(key, ".json") {
				qs, err := dashboard(path+": "+key, []byte(value))
				if err != nil {
					return nil, fmt.Errorf("%s: %v", key, err)
				}
				out = append(out, qs...)
			}
		}
		return out, nil
	case "PrometheusRule":
		spec, err := yaml.Marshal(&kind.Spec)
		if err != nil {
			return nil, err
		}
		data = spec
	}
	var file struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert  string `yaml:"alert"`
				Record string `yaml:"record"`
				Expr   string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		return nil, err
	}
	var out []query
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			out = append(out, query{fmt.Sprintf("%s: group %s: %s%s", path, g.Name, r.Alert, r.Record), r.Expr})
		}
	}
	return out, nil
}

type panel struct {
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

func dashboard(path string, data []byte) ([]query, error) {
	var d struct {
		Panels     []panel `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, err
	}
	var out []query
	var walk func(ps []panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, t := range p.Targets {
				out = append(out, query{fmt.Sprintf("%s: panel %q %s", path, p.Title, t.RefID), t.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q string
		var obj struct {
			Query string `json:"query"`
		}
		if json.Unmarshal(v.Query, &q) != nil {
			if err := json.Unmarshal(v.Query, &obj); err != nil {
				return nil, fmt.Errorf("variable %s: %v", v.Name, err)
			}
			q = obj.Query
		}
		where := fmt.Sprintf("%s: variable %s", path, v.Name)
		if m := labelValues.FindStringSubmatch(q); m != nil {
			out = append(out, query{where, m[1]})
		} else if m := queryResult.FindStringSubmatch(q); m != nil {
			out = append(out, query{where, m[1]})
		} else {
			return nil, fmt.Errorf("variable %s: not label_values(...) or query_result(...): %s", v.Name, q)
		}
	}
	return out, nil
}
