#!/usr/bin/env python3
"""Counts every test case of one or more meson build directories and prints the one
line CI reads: "N passed, N failed, N skipped".

GoogleTest executables are counted case by case from the XML file meson asks them to
write (<builddir>/<test name>.xml); an executable that crashed or timed out after its
last recorded case counts one more failure. Other meson tests count as one case each.
Extra result files (lines "PASS name", "FAIL name" or "SKIP name", e.g. fuzz runs, or
"SKIP fuzz targets" when clang is missing) are counted as one case a line. Suites that a
build directory's options turned off (-Dtests=false, -Dintegration=false) count as one
skipped case each, so that a run which left them out says so in its closing line.

Before the closing line, each failure gets a few lines of why (GoogleTest's failure
message, or the lines of a test's output that say FAIL, else its last lines), so that the
tail of a CI log names the cause and not only the test.

usage: test_summary.py [--results FILE]... BUILDDIR...
"""
import json
import os
import sys
import xml.etree.ElementTree as ET


# At most this many lines of why per failure, and failures explained so.
DETAIL_LINES = 16
DETAILED_FAILURES = 5


def excerpt(text):
    """The lines of `text` that say why a test failed: those naming a failure (a soak's
    "CHECK ... FAIL", GoogleTest's "Failure"), else the last ones; bounded."""
    lines = [line.rstrip()[:300] for line in (text or '').splitlines() if line.strip()]
    telling = [line for line in lines if 'FAIL' in line or 'Failure' in line or
               'ThreadSanitizer' in line or 'AddressSanitizer' in line or
               'runtime error' in line]
    return (telling or lines)[-DETAIL_LINES:]


def output_excerpt(entry):
    """Why a test run without a result file failed: its output's telling lines (stdout,
    then stderr, where a sanitizer reports), and its exit status."""
    text = (entry.get('stdout') or '') + '\n' + (entry.get('stderr') or '')
    status = entry.get('returncode')
    return excerpt(text)[-(DETAIL_LINES - 1):] + [f'(exit status {status})']


def count_gtest_xml(path):
    passed = failed = skipped = 0
    failures = []
    for case in ET.parse(path).getroot().iter('testcase'):
        name = f"{case.get('classname')}.{case.get('name')}"
        failure = case.find('failure')
        if failure is not None:
            failed += 1
            text = failure.get('message') or failure.text or ''
            failures.append((name, text.splitlines()[:DETAIL_LINES]))
        elif case.get('status') == 'notrun' or case.get('result') == 'skipped' or \
                case.find('skipped') is not None:
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped, failures


def skipped_by_options(builddir):
    """The suites `builddir`'s meson options turned off, one name each."""
    path = os.path.join(builddir, 'meson-info', 'intro-buildoptions.json')
    try:
        with open(path) as f:
            options = {o['name']: o['value'] for o in json.load(f)}
    except (OSError, ValueError, KeyError, TypeError):
        return []
    if options.get('tests') is False:
        return ['all test suites (-Dtests=false)']
    if options.get('integration') is False:
        return [f'suite {s} (-Dintegration=false)' for s in ('integration', 'soak')]
    return []


def main(argv):
    builddirs, result_files = [], []
    args = iter(argv)
    for a in args:
        if a == '--results':
            result_files.append(next(args))
        else:
            builddirs.append(a)
    passed = failed = skipped = 0
    failures, skips = [], []
    for bd in builddirs:
        off = skipped_by_options(bd)
        skipped += len(off)
        skips += [f'{bd}: {s}' for s in off]
        log = os.path.join(bd, 'meson-logs', 'testlog.json')
        if not os.path.exists(log):
            failed += 1
            failures.append((f'{bd}: no test log (build or setup failed)', []))
            continue
        with open(log) as f:
            entries = [json.loads(line) for line in f if line.strip()]
        for e in entries:
            name, result = e['name'], e['result']
            # meson may log the name as "project:suite / name"; gtest's file uses the name.
            xml = os.path.join(bd, f"{name.rsplit(' / ', 1)[-1]}.xml")
            if os.path.exists(xml):
                try:
                    p, fl, s, names = count_gtest_xml(xml)
                except ET.ParseError:
                    p, fl, s, names = 0, 0, 0, []
                passed, failed, skipped = passed + p, failed + fl, skipped + s
                failures += [(f'{bd}: {n}', why) for n, why in names]
                if result not in ('OK', 'SKIP', 'EXPECTEDFAIL') and fl == 0:
                    failed += 1
                    failures.append((f'{bd}: {name} ({result}; crashed or timed out)',
                                     output_excerpt(e)))
            elif result == 'OK':
                passed += 1
            elif result == 'SKIP':
                skipped += 1
            else:
                failed += 1
                failures.append((f'{bd}: {name} ({result})', output_excerpt(e)))
    for rf in result_files:
        if not os.path.exists(rf):
            continue
        with open(rf) as f:
            for line in f:
                word, _, name = line.strip().partition(' ')
                if word == 'PASS':
                    passed += 1
                elif word == 'SKIP':
                    skipped += 1
                    skips.append(name)
                elif word == 'FAIL':
                    failed += 1
                    failures.append((name, []))
    for s in skips:
        print(f'SKIPPED: {s}')
    for f, why in failures[:DETAILED_FAILURES]:
        if why:
            print(f'WHY {f}:')
            for line in why:
                print(f'    {line}')
    for f, _ in failures:
        print(f'FAILED: {f}')
    print(f'{passed} passed, {failed} failed, {skipped} skipped')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
