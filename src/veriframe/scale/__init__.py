"""Scale-out engines for moderation scans (``veriframe.scale.ray``); nothing imported here."""
