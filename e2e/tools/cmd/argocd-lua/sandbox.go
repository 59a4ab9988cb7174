package main

// The Lua state Argo CD runs resource customizations in (argo-cd
// util/lua/lua.go and oslib_safe.go, read at v3.6.0; the module itself is
// not on this machine's module proxy): only the package, base and table
// libraries, `os` reachable only through `require("os")` and holding only
// `time` and `date`, `obj` and `actionParams` as globals, and a one-second
// limit per script.

import (
	"context"
	"fmt"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// Limit is Argo CD's time limit for one script run.
const Limit = time.Second

// run executes script with obj and params as Argo CD does and returns the
// script's last return value, encoded as JSON-like Go values.
func run(script string, obj map[string]any, params map[string]string, now time.Time) (any, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			return nil, err
		}
	}
	l.PreloadModule(lua.OsLibName, safeOs(now))
	ctx, cancel := context.WithTimeout(context.Background(), Limit)
	defer cancel()
	l.SetContext(ctx)
	p := l.CreateTable(0, len(params))
	for k, v := range params {
		p.RawSetString(k, lua.LString(v))
	}
	l.SetGlobal("actionParams", p)
	l.SetGlobal("obj", decode(l, obj))
	fn, err := l.LoadString(script)
	if err != nil {
		return nil, err
	}
	l.Push(fn)
	if err := l.PCall(0, lua.MultRet, nil); err != nil {
		if apiErr, ok := err.(*lua.ApiError); ok {
			apiErr.StackTrace = ""
		}
		return nil, err
	}
	return encode(l.Get(-1), map[*lua.LTable]bool{})
}

// decode turns a JSON-like value into Lua as Argo CD's decodeValue does:
// numbers become Lua numbers, null map values and array items are left out.
func decode(l *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(float64(v))
	case int:
		return lua.LNumber(float64(v))
	case string:
		return lua.LString(v)
	case []any:
		t := l.CreateTable(len(v), 0)
		for _, item := range v {
			t.Append(decode(l, item))
		}
		return t
	case map[string]any:
		t := l.CreateTable(0, len(v))
		for k, item := range v {
			t.RawSetH(lua.LString(k), decode(l, item))
		}
		return t
	default:
		return lua.LNil
	}
}

// encode turns a Lua value into JSON-like Go values by gopher-json's rules,
// which Argo CD uses: an empty table is an array, a table with key 1..n an
// array, one with string keys an object.
func encode(v lua.LValue, seen map[*lua.LTable]bool) (any, error) {
	switch v := v.(type) {
	case *lua.LNilType:
		return nil, nil
	case lua.LBool:
		return bool(v), nil
	case lua.LNumber:
		return float64(v), nil
	case lua.LString:
		return string(v), nil
	case *lua.LTable:
		if seen[v] {
			return nil, fmt.Errorf("cannot encode recursively nested tables to JSON")
		}
		seen[v] = true
		defer delete(seen, v)
		key, _ := v.Next(lua.LNil)
		switch key.Type() {
		case lua.LTNil:
			return []any{}, nil
		case lua.LTNumber:
			arr := []any{}
			n := v.MaxN()
			count := 0
			v.ForEach(func(lua.LValue, lua.LValue) { count++ })
			if n != count {
				return nil, fmt.Errorf("cannot encode sparse array")
			}
			for i := 1; i <= n; i++ {
				item, err := encode(v.RawGetInt(i), seen)
				if err != nil {
					return nil, err
				}
				arr = append(arr, item)
			}
			return arr, nil
		case lua.LTString:
			obj := map[string]any{}
			var err error
			v.ForEach(func(k, item lua.LValue) {
				if err != nil {
					return
				}
				ks, ok := k.(lua.LString)
				if !ok {
					err = fmt.Errorf("cannot encode mixed or invalid key types")
					return
				}
				var e any
				e, err = encode(item, seen)
				obj[string(ks)] = e
			})
			return obj, err
		default:
			return nil, fmt.Errorf("cannot encode mixed or invalid key types")
		}
	default:
		return nil, fmt.Errorf("cannot encode %s to JSON", v.Type().String())
	}
}

// safeOs is the `os` module Argo CD preloads: time and date only, here on a
// fixed clock so that actions stamping the time have one expected output.
func safeOs(now time.Time) lua.LGFunction {
	return func(l *lua.LState) int {
		mod := l.SetFuncs(l.NewTable(), map[string]lua.LGFunction{
			"time": func(l *lua.LState) int {
				if l.GetTop() == 0 {
					l.Push(lua.LNumber(now.Unix()))
					return 1
				}
				t := l.CheckTable(1)
				field := func(k string, def int) int {
					if n, ok := t.RawGetString(k).(lua.LNumber); ok {
						return int(n)
					}
					return def
				}
				at := time.Date(field("year", 1970), time.Month(field("month", 1)), field("day", 1),
					field("hour", 12), field("min", 0), field("sec", 0), 0, time.Local)
				l.Push(lua.LNumber(at.Unix()))
				return 1
			},
			"date": func(l *lua.LState) int {
				format := l.OptString(1, "%c")
				at := now
				if l.GetTop() > 1 {
					at = time.Unix(l.CheckInt64(2), 0)
				}
				if strings.HasPrefix(format, "!") {
					format = format[1:]
					at = at.UTC()
				} else {
					at = at.Local()
				}
				l.Push(lua.LString(strftime(format, at)))
				return 1
			},
		})
		l.Push(mod)
		return 1
	}
}

// strftime formats t as gopher-lua's os.date does (its cDateFlagToGo table,
// which Argo CD's safe os.date uses too), oddities included: `%a` prints
// "mon" and `%x` a time.
func strftime(format string, t time.Time) string {
	directives := map[byte]string{
		'a': "mon", 'A': "Monday", 'b': "Jan", 'B': "January", 'c': "02 Jan 06 15:04 MST", 'd': "02",
		'F': "2006-01-02", 'H': "15", 'I': "03", 'm': "01", 'M': "04", 'p': "PM", 'P': "pm", 'S': "05",
		'x': "15/04/05", 'X': "15:04:05", 'y': "06", 'Y': "2006", 'z': "-0700", 'Z': "MST",
	}
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] != '%' || i+1 == len(format) {
			b.WriteByte(format[i])
			continue
		}
		i++
		c := format[i]
		if layout, ok := directives[c]; ok {
			b.WriteString(t.Format(layout))
		} else if c == 'w' {
			fmt.Fprintf(&b, "%d", int(t.Weekday()))
		} else {
			b.WriteByte('%')
			b.WriteByte(c)
		}
	}
	return b.String()
}
