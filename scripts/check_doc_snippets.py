#!/usr/bin/env python3
"""Checks that every ```cpp block of the given Markdown files appears, line for line
(leading and trailing spaces aside), in one of the C++ files of the examples directory,
which every build compiles. usage: check_doc_snippets.py EXAMPLES_DIR DOC.md..."""
import pathlib
import re
import sys


def lines(text):
    return [l.strip() for l in text.splitlines() if l.strip()]


def main(argv):
    examples = [lines(p.read_text()) for p in sorted(pathlib.Path(argv[0]).glob('*.cpp'))]
    failures = 0
    checked = 0
    for doc in argv[1:]:
        for block in re.findall(r'```cpp\n(.*?)```', pathlib.Path(doc).read_text(), re.S):
            want = lines(block)
            checked += 1
            found = any(
                ex[i:i + len(want)] == want for ex in examples for i in range(len(ex)))
            if not found:
                failures += 1
                print(f'{doc}: this block is not in any example:\n{block}')
    print(f'{checked} snippets checked, {failures} not found in {argv[0]}')
    return 1 if failures or checked == 0 else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
