/* Python's repr() of a float (float_repr_style "short"), which Feast's SQLite value_text, the
 * HTTP server's JSON and str() conversions all use: the shortest decimal that reads back to the
 * same double, in fixed notation when the decimal exponent is in [-4, 16), else in exponent
 * notation with a sign and at least two exponent digits ("1e+16", "1.5e-05"). Fixed notation always
 * has a fractional part ("1.0"). */
#include "feast/feast.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Shortest significant digits (no dot, no trailing zeros) and the decimal exponent of the first. */
static void shortest_digits(double d, char digits[20], int *exp10)
{
    /* Round-tripping is monotonic in the number of digits (the nearest p+1-digit decimal is at
     * least as close as the nearest p-digit one), so binary-search the shortest precision: about
     * 4 formatting passes instead of up to 17 on this hot path (value_text of every float). */
    char tmp[40];
    int lo = 1, hi = 17;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        snprintf(tmp, sizeof tmp, "%.*e", mid - 1, d);
        if (strtod(tmp, NULL) == d)
            hi = mid;
        else
            lo = mid + 1;
    }
    snprintf(tmp, sizeof tmp, "%.*e", lo - 1, d);
    /* tmp is "D[.DDD]e[+-]XX" for a positive finite d. */
    size_t n = 0;
    const char *p = tmp;
    for (; *p && *p != 'e'; p++)
        if (*p != '.')
            digits[n++] = *p;
    while (n > 1 && digits[n - 1] == '0')
        n--;
    digits[n] = '\0';
    *exp10 = atoi(p + 1);
}

char *feast_py_float_repr(double d, char buf[FEAST_PYFLOAT_BUF])
{
    if (isnan(d)) {
        strcpy(buf, "nan");
        return buf;
    }
    if (isinf(d)) {
        strcpy(buf, d < 0 ? "-inf" : "inf");
        return buf;
    }
    char *o = buf;
    if (signbit(d)) {
        *o++ = '-';
        d = -d;
    }
    if (d == 0) {
        strcpy(o, "0.0");
        return buf;
    }
    char digits[20];
    int e;
    shortest_digits(d, digits, &e);
    int nd = (int)strlen(digits);

    if (e < -4 || e >= 16) {
        *o++ = digits[0];
        if (nd > 1) {
            *o++ = '.';
            memcpy(o, digits + 1, (size_t)nd - 1);
            o += nd - 1;
        }
        snprintf(o, 8, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
        return buf;
    }
    if (e < 0) {
        /* 0.000ddd */
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -e - 1; i++)
            *o++ = '0';
        memcpy(o, digits, (size_t)nd);
        o += nd;
    } else {
        /* Integer part: digits[0..e], padded with zeros; then the rest or ".0". */
        for (int i = 0; i <= e; i++)
            *o++ = i < nd ? digits[i] : '0';
        *o++ = '.';
        if (nd > e + 1) {
            memcpy(o, digits + e + 1, (size_t)(nd - e - 1));
            o += nd - e - 1;
        } else {
            *o++ = '0';
        }
    }
    *o = '\0';
    return buf;
}
