/**
 * The first lines of a python3-libtorrent script run with `python3 -c`: they make test/helpers/lt_alerts.py
 * importable and import its AlertWaiter (session.wait_for_alert() can crash the binding: see that file).
 */
export const IMPORT_ALERT_WAITER = `import sys
sys.path.insert(0, ${JSON.stringify(import.meta.dirname)})
from lt_alerts import AlertWaiter
`;
