-- 020: pictures.  Cover art (from an audio file's attached picture, or
-- uploaded), video posters and thumbnail strips, audio waveforms: files in
-- hls/<media id>/, served on the playback token path.  The media row says
-- which there are, so that answers list their URLs without looking at the
-- disk:
--   media.pictures       MEDIA_PIC_* bits (media_shared.h): 1 cover,
--                        2 poster, 4 thumbnail strip, 8 waveform;
--   media.cover_source   'file' (the attached picture) or 'upload';
--   media.cover_version  counts uploads, so a new cover gets a new URL.
-- A cover upload is a job of its own type ('cover', media:cover), done by
-- the transcoder between transcodes.

ALTER TABLE media
    ADD COLUMN pictures integer NOT NULL DEFAULT 0
        CHECK (pictures BETWEEN 0 AND 15),
    ADD COLUMN cover_source text CHECK (cover_source IN ('file', 'upload')),
    ADD COLUMN cover_version integer NOT NULL DEFAULT 0
        CHECK (cover_version >= 0);

ALTER TABLE jobs DROP CONSTRAINT jobs_type_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_type_check
    CHECK (type IN ('transcode', 'export', 'enhance', 'billing', 'sweep',
                    'cover'));

-- what earlier transcodes made: a poster for every ready video, a
-- waveform for every ready audio file (their covers were written as they
-- came, not in the two sizes: a new transcode makes those)
UPDATE media SET pictures = CASE kind WHEN 'video' THEN 2 ELSE 8 END
 WHERE status = 'ready' AND kind IN ('video', 'audio');
