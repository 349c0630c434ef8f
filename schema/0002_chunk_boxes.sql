-- 0002_chunk_boxes.sql — word bounding boxes of each chunk's passage (PDF),
-- so a viewer can highlight the cited words on the rendered page.
-- Blob layout: n records of 5 little-endian uint16, 10 bytes each:
--   page (1-based), x0, y0, x1, y1 in tenths of a PDF point from the page's
--   top-left corner (clamped to 0..65535). NULL when the source has no boxes.
ALTER TABLE chunks ADD COLUMN boxes BLOB;
