# Dev helper (not part of the build): applies insta .pending-snap files for inline snapshots.
import json, sys, glob, os, re
for pend in glob.glob(sys.argv[1] + '/**/.*.pending-snap', recursive=True):
    src = os.path.join(os.path.dirname(pend), os.path.basename(pend)[1:-len('.pending-snap')])
    entries = {}
    for line in open(pend):
        if line.strip():
            e = json.loads(line)
            entries[e['line']] = e['new']['snapshot']
    lines = open(src).read().split('\n')
    for ln in sorted(entries, reverse=True):
        snap = entries[ln]
        i = ln - 1
        while '@""' not in lines[i]:
            i += 1
        lit = 'r#"' + snap + '"#' if '\n' not in snap else 'r#"\n' + snap + '\n"#'
        lines[i] = lines[i].replace('@""', '@' + lit, 1)
    open(src, 'w').write('\n'.join(lines))
    os.remove(pend)
    print('filled', src, len(entries))
