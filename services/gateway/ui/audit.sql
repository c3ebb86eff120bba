-- Each audit chain's head, whether the head row still carries the head's hash (a cheap check,
-- not a verification), and where `ledgerflow audit verify --incremental` last found it intact.
SELECT h.chain, h.chain_seq AS head_seq, h.hash AS head_hash,
       a.recorded_at AS head_recorded_at,
       a.hash IS NOT DISTINCT FROM h.hash AS head_matches,
       c.chain_seq AS verified_seq, c.verified_at,
       c.chain_seq IS NULL OR v.hash IS NOT DISTINCT FROM c.hash AS checkpoint_matches
  FROM audit_chain_heads h
  LEFT JOIN audit_log a ON a.chain = h.chain AND a.chain_seq = h.chain_seq
  LEFT JOIN audit_checkpoints c ON c.chain = h.chain
  LEFT JOIN audit_log v ON v.chain = c.chain AND v.chain_seq = c.chain_seq
 ORDER BY h.chain
