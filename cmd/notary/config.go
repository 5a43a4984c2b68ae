package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strings"
)

// applyConfig gives every flag not set on the command line its value from the environment
// (NOTARY_ and the flag's name in upper case, dashes as underscores) or, failing that, from
// the config file: lines "name = value", "#" comments. Command line beats environment beats file.
func applyConfig(fs *flag.FlagSet, file string) error {
	return applyConfigAlso(fs, file, nil)
}

// applyConfigAlso is applyConfig for a config file that may also hold the settings of
// others, a command's whose file it shares: those are ignored.
func applyConfigAlso(fs *flag.FlagSet, file string, others *flag.FlagSet) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	fromFile := map[string]string{}
	if file != "" {
		var err error
		if fromFile, err = readConfigFile(file, fs, others); err != nil {
			return err
		}
	}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		env := "NOTARY_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		value, ok := os.LookupEnv(env)
		source := env
		if !ok {
			value, ok = fromFile[f.Name]
			source = file
		}
		if ok {
			if e := f.Value.Set(value); e != nil {
				err = usageError("%s: %s: %v", source, f.Name, e)
			}
		}
	})
	return err
}

func readConfigFile(path string, fs, others *flag.FlagSet) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usageError("config: %v", err)
	}
	defer f.Close()
	values := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" {
			return nil, usageError("%s:%d: want \"name = value\"", path, n)
		}
		if fs.Lookup(name) == nil && others != nil && others.Lookup(name) != nil {
			continue
		}
		if fs.Lookup(name) == nil || name == "config" {
			e := &cliError{code: exitUsage, err: fmt.Errorf("%s:%d: unknown setting %q", path, n, name)}
			var names []string
			fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
			if near := nearest(name, names); near != "" {
				e.hint = fmt.Sprintf("did you mean %q?", near)
			}
			return nil, e
		}
		values[name] = value
	}
	if err := sc.Err(); err != nil {
		return nil, usageError("config: %v", err)
	}
	return values, nil
}

// ensureDataDir creates dir, private to its owner, if it does not exist.
func ensureDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return usageError("data directory: %v", err)
	}
	return nil
}

// parseInterspersed parses flags that may come before or after the positional arguments,
// and returns those.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
