import { describe, expect, it } from 'vitest';
import { evaluatePreconditions, ifRangeHolds, matchesList } from '../../src/http/conditional.ts';

const modified = Date.UTC(2024, 0, 2, 3, 4, 5) / 1000;
const validators = { etag: '"abc"', lastModifiedSeconds: modified };
const lastModified = new Date(modified * 1000).toUTCString();
const earlier = new Date((modified - 60) * 1000).toUTCString();
const later = new Date((modified + 60) * 1000).toUTCString();

describe('evaluatePreconditions (RFC 9110 13.2.2)', () => {
  it('proceeds without conditional headers', () => {
    expect(evaluatePreconditions({}, validators)).toBe('proceed');
  });

  it('answers 304 to a matching If-None-Match, weakly compared', () => {
    expect(evaluatePreconditions({ 'if-none-match': '"abc"' }, validators)).toBe('not-modified');
    expect(evaluatePreconditions({ 'if-none-match': 'W/"abc"' }, validators)).toBe('not-modified');
    expect(evaluatePreconditions({ 'if-none-match': '"x", "abc"' }, validators)).toBe('not-modified');
    expect(evaluatePreconditions({ 'if-none-match': '*' }, validators)).toBe('not-modified');
    expect(evaluatePreconditions({ 'if-none-match': '"x"' }, validators)).toBe('proceed');
  });

  it('answers 304 to If-Modified-Since at or after Last-Modified', () => {
    expect(evaluatePreconditions({ 'if-modified-since': lastModified }, validators)).toBe('not-modified');
    expect(evaluatePreconditions({ 'if-modified-since': later }, validators)).toBe('not-modified');
    expect(evaluatePreconditions({ 'if-modified-since': earlier }, validators)).toBe('proceed');
    expect(evaluatePreconditions({ 'if-modified-since': 'not a date' }, validators)).toBe('proceed');
  });

  it('lets If-None-Match take precedence over If-Modified-Since', () => {
    expect(evaluatePreconditions({ 'if-none-match': '"x"', 'if-modified-since': later }, validators)).toBe('proceed');
  });

  it('fails If-Match unless it matches strongly, and If-Unmodified-Since when modified later', () => {
    expect(evaluatePreconditions({ 'if-match': '"abc"' }, validators)).toBe('proceed');
    expect(evaluatePreconditions({ 'if-match': 'W/"abc"' }, validators)).toBe('failed');
    expect(evaluatePreconditions({ 'if-match': '"x"' }, validators)).toBe('failed');
    expect(evaluatePreconditions({ 'if-unmodified-since': earlier }, validators)).toBe('failed');
    expect(evaluatePreconditions({ 'if-unmodified-since': lastModified }, validators)).toBe('proceed');
    // If-Match present: If-Unmodified-Since is not evaluated
    expect(evaluatePreconditions({ 'if-match': '*', 'if-unmodified-since': earlier }, validators)).toBe('proceed');
  });
});

describe('ifRangeHolds (RFC 9110 13.1.5)', () => {
  it('holds for a strongly matching entity tag or the exact Last-Modified date', () => {
    expect(ifRangeHolds(undefined, validators)).toBe(true);
    expect(ifRangeHolds('"abc"', validators)).toBe(true);
    expect(ifRangeHolds(lastModified, validators)).toBe(true);
  });

  it('fails for another tag, a weak tag, another date, or garbage', () => {
    expect(ifRangeHolds('"abd"', validators)).toBe(false);
    expect(ifRangeHolds('W/"abc"', validators)).toBe(false);
    expect(ifRangeHolds(later, validators)).toBe(false);
    expect(ifRangeHolds('yesterday', validators)).toBe(false);
    expect(ifRangeHolds(['"abc"', '"abc"'], validators)).toBe(false);
  });
});

describe('matchesList', () => {
  it('scans tags that hold commas, and rejects malformed lists', () => {
    expect(matchesList('"a,b", "abc"', '"abc"', true)).toBe(true);
    expect(matchesList('"a,b"', '"a,b"', true)).toBe(true);
    expect(matchesList('abc', '"abc"', false)).toBe(false);
    expect(matchesList('"abc', '"abc"', false)).toBe(false);
  });
});
